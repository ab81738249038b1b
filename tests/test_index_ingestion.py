"""Ingestion and controls of `genlab index`: PDFs page by page, --list, --forget, the first-ask line."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from cli_runner import run_cli
from pdf_files import write_pdf

from genlab.retrieval import CourseIndex
from genlab.retrieval.search import Searcher

pytestmark = pytest.mark.slow


@pytest.fixture
def index(session_home, tmp_path, monkeypatch):
    from genlab.settings import get_settings

    os.environ["GENLAB_HOME"] = str(session_home)
    get_settings.cache_clear()
    CourseIndex("faiss").open()
    home = tmp_path / "home"
    shutil.copytree(session_home / "index" / "faiss", home / "index" / "faiss", ignore=shutil.ignore_patterns(".lock"))
    monkeypatch.setenv("GENLAB_HOME", str(home))
    get_settings.cache_clear()
    return CourseIndex("faiss")


def test_a_pdf_is_indexed_page_by_page_with_its_page_numbers(index, tmp_path, capsys):
    folder = tmp_path / "papers"
    folder.mkdir()
    pdf = write_pdf(
        folder / "schedules.pdf",
        [
            ["Noise schedules", "A noise schedule says how much noise each diffusion step adds to an image."],
            None,  # a page without a text layer: nothing to index there
            ["The Zorblax schedule", "The Zorblax schedule was proposed for training diffusion models in twelve steps."],
        ],
    )
    write_pdf(folder / "scanned.pdf", [None])
    code, out, err = run_cli(["index", str(folder)], capsys)
    assert code == 0, err
    assert f"added {folder}: 1 file indexed" in out
    scanned = folder / "scanned.pdf"
    assert err.strip() == f"genlab: warning: {scanned} has no text layer (a scanned PDF?); skipped, run OCR on it first"
    version = index.load()
    pages = {c.page for c in version.chunks if c.source == str(pdf)}
    assert pages == {1, 3}
    hit = Searcher(version).search("Zorblax schedule", k=1, mode="bm25")[0]
    assert hit.chunk.source == str(pdf) and hit.chunk.page == 3 and hit.chunk.metadata()["page"] == 3
    # Page numbers are kept through a reload and in what the retriever returns.
    from genlab.retrieval import course_retriever

    docs = course_retriever(k=4).invoke("Which schedule trains diffusion models in twelve steps? Zorblax")
    assert any(d.metadata["source"] == str(pdf) for d in docs)
    code, out, _ = run_cli(["index", "--json"], capsys)
    assert code == 0 and json.loads(out)["embedded"] == 0  # unchanged PDF: nothing embedded


def test_list_and_forget(index, tmp_path, capsys):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "lora.md").write_text("# LoRA\n\nLoRA fine-tunes a large model by training small low-rank matrices.\n")
    run_cli(["index", str(notes)], capsys)
    code, out, _ = run_cli(["index", "--list"], capsys)
    assert code == 0 and f"  {notes}\n" in out and f"  {notes / 'lora.md'} (1 chunks)" in out
    assert "generative-ai-fundamentals.md" in out
    code, out, _ = run_cli(["index", "--list", "--json"], capsys)
    listing = json.loads(out)
    assert listing["folders"] == [str(notes)] and listing["files"][str(notes / "lora.md")] == 1
    code, out, err = run_cli(["index", "--forget", str(notes)], capsys)
    assert code == 0 and f"forgot {notes}" in out and "1 removed" in out
    code, out, _ = run_cli(["index", "--rebuild", "--json"], capsys)  # gone for good, also through --rebuild
    assert code == 0 and json.loads(out)["files"] == 5
    assert not any("LoRA" in c.text for c in index.load().chunks)
    code, _, err = run_cli(["index", "--forget", str(notes)], capsys)
    assert code == 2 and "was never added" in err and err.count("\n") == 1


def test_list_refuses_to_combine_and_needs_an_index(tmp_path, monkeypatch, capsys):
    from genlab.settings import get_settings

    monkeypatch.setenv("GENLAB_HOME", str(tmp_path / "fresh"))
    get_settings.cache_clear()
    code, _, err = run_cli(["index", "--list"], capsys)
    assert code == 2 and "no faiss index yet" in err
    code, _, err = run_cli(["index", "--list", "--rebuild"], capsys)
    assert code == 2 and "--list only shows" in err


def test_the_first_ask_in_a_new_home_says_it_builds_the_index(tmp_path, monkeypatch, capsys):
    from genlab.settings import get_settings

    monkeypatch.setenv("GENLAB_HOME", str(tmp_path / "fresh"))
    get_settings.cache_clear()
    code, out, err = run_cli(["ask", "What is a GAN?", "--json"], capsys)  # stderr is not a terminal here
    assert code == 0 and json.loads(out)["sources"]
    assert err.startswith("genlab: indexing the course documents, once: ") and err.count("\n") == 1
    code, _, err = run_cli(["ask", "What is a GAN?", "--json"], capsys)
    assert code == 0 and err == ""
