"""The course index in a real Chroma server (``chroma run`` on 127.0.0.1), through GENLAB_CHROMA_URL."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from chroma_server import ChromaServer
from cli_runner import run_cli

from genlab.retrieval import CourseIndex
from genlab.retrieval.search import Searcher

pytestmark = [pytest.mark.slow, pytest.mark.server]


def _collections(url: str) -> list[str]:
    import chromadb

    port = int(url.rsplit(":", 1)[1])
    client = chromadb.HttpClient(host="127.0.0.1", port=port, settings=chromadb.Settings(anonymized_telemetry=False))
    return sorted(c.name for c in client.list_collections())


def _chroma_files(home: Path) -> list[str]:
    """Anything Chroma writes when it keeps a database locally."""
    return [str(p) for p in home.rglob("*") if p.name in ("chroma.sqlite3", "chroma") or p.suffix == ".bin"]


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server") / "data").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def server_home(chroma_server, tmp_path_factory):
    """A GENLAB_HOME whose chroma index lives in the session's server, built once."""
    from genlab.settings import get_settings

    home = tmp_path_factory.mktemp("server-home")
    saved = {name: os.environ.get(name) for name in ("GENLAB_HOME", "GENLAB_CHROMA_URL")}
    os.environ.update(GENLAB_HOME=str(home), GENLAB_CHROMA_URL=chroma_server.url)
    get_settings.cache_clear()
    try:
        report = CourseIndex("chroma").sync()
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)
        get_settings.cache_clear()
    return home, report


@pytest.fixture
def server_env(chroma_server, server_home, monkeypatch):
    from genlab.settings import get_settings

    home, _ = server_home
    monkeypatch.setenv("GENLAB_HOME", str(home))
    monkeypatch.setenv("GENLAB_CHROMA_URL", chroma_server.url)
    get_settings.cache_clear()
    return home


def test_index_lives_in_the_server_and_reindexing_embeds_nothing(chroma_server, server_home, server_env, capsys):
    home, first = server_home
    assert first.path == chroma_server.url and first.embedded == first.chunks > 100
    code, out, _ = run_cli(["index", "--json"], capsys)  # GENLAB_CHROMA_URL alone selects the server
    again = json.loads(out)
    assert code == 0 and again["embedded"] == 0 and not again["changed"] and again["chunks"] == first.chunks
    names = _collections(chroma_server.url)
    versions = {re.sub(r"-(chunks|sentences)$", "", n) for n in names if n != "genlab-course-meta"}
    assert len(versions) == 1 and len(names) == 3, names
    assert _chroma_files(home) == []


def test_ask_with_citations_over_the_server(server_env, capsys):
    code, out, err = run_cli(["ask", "What is a VAE?", "--json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert len(result["sources"]) == 4 and re.search(r"\[\d\]", result["answer"])
    assert any("VAE" in s["text"] or "autoencoder" in s["text"].lower() for s in result["sources"])
    code, out, _ = run_cli(["ask", "How do the two networks of a GAN compete with each other?"], capsys)
    assert code == 0 and "\nSources\n[1] " in out


def test_server_and_local_chroma_agree(server_env, session_home, monkeypatch):
    from genlab.settings import get_settings

    served = Searcher(CourseIndex("chroma").load()).search("diffusion models add noise", k=3, mode="dense")
    monkeypatch.setenv("GENLAB_HOME", str(session_home))
    monkeypatch.delenv("GENLAB_CHROMA_URL")
    get_settings.cache_clear()
    local = Searcher(CourseIndex("faiss").open()[0]).search("diffusion models add noise", k=3, mode="dense")
    assert [h.chunk.id for h in served] == [h.chunk.id for h in local]


def test_two_processes_indexing_into_the_server_at_once(chroma_server, server_env, tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "lora.md").write_text("# LoRA\n\nLoRA fine-tunes a large model by training small low-rank matrices.\n")
    code = "import sys; from genlab.retrieval import CourseIndex; print(CourseIndex('chroma').sync([sys.argv[1]]).embedded)"
    command = [sys.executable, "-c", code, str(notes)]
    procs = [subprocess.Popen(command, env=dict(os.environ), stdout=subprocess.PIPE) for _ in range(2)]
    embedded = sorted(int(p.communicate(timeout=240)[0]) for p in procs)
    assert all(p.returncode == 0 for p in procs) and embedded == [0, 1]
    index = CourseIndex("chroma")
    assert sum("LoRA" in c.text for c in index.load().chunks) == 1
    # The live version and the one before it are kept; nothing else piles up on the server.
    versions = {n.rsplit("-", 1)[0] for n in _collections(chroma_server.url) if n != "genlab-course-meta"}
    assert len(versions) <= 2
    forgotten = index.sync(forget=[str(notes)])
    assert forgotten.removed == 1 and not any("LoRA" in c.text for c in index.load().chunks)


def test_a_server_that_goes_away_is_one_clear_line_and_loses_nothing(tmp_path, monkeypatch, capsys):
    from genlab.settings import get_settings

    server = ChromaServer(tmp_path / "data").start()
    try:
        monkeypatch.setenv("GENLAB_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("GENLAB_CHROMA_URL", server.url)
        get_settings.cache_clear()
        built = CourseIndex("chroma").sync()
        code, _, err = run_cli(["ask", "What is a GAN?"], capsys)
        assert code == 0, err
        server.stop()  # gone mid-session: the searcher is cached, the server is not there
        for args in (["ask", "What is a GAN?"], ["index"], ["index", "--rebuild"]):
            code, out, err = run_cli(args, capsys)
            assert code == 2 and out == "", (args, err)
            assert err.count("\n") == 1 and server.url in err and "does not answer" in err and "Traceback" not in err
        server.start()
        version = CourseIndex("chroma").load()
        assert len(version.chunks) == built.chunks  # intact
        code, out, _ = run_cli(["index", "--json"], capsys)
        assert code == 0 and json.loads(out)["embedded"] == 0
        assert _chroma_files(tmp_path / "home") == []
    finally:
        server.stop()


def test_a_server_that_never_answers_is_refused_clearly(tmp_path, monkeypatch, capsys):
    from chroma_server import free_port

    from genlab.settings import get_settings

    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("GENLAB_CHROMA_URL", url)
    get_settings.cache_clear()
    code, _, err = run_cli(["index"], capsys)
    assert code == 2 and url in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "value", ["localhost:8000", "ftp://127.0.0.1:8000", "http://127.0.0.1:port", "http://127.0.0.1:8000/api"]
)
def test_a_chroma_url_that_is_not_an_http_url_is_refused(value, monkeypatch, capsys):
    from genlab.settings import get_settings

    monkeypatch.setenv("GENLAB_CHROMA_URL", value)
    get_settings.cache_clear()
    code, _, err = run_cli(["index"], capsys)
    assert code == 2 and "GENLAB_CHROMA_URL" in err and "http(s) URL" in err
