"""Data loss and integrity of the course index (issue 15): each class of failure, several members.

Damaged artefacts are detected as corruption and rebuilt (said so) or refused with exit 2;
paths that cannot be indexed are refused and not remembered; files read once; symlinks
deduplicated; added folders never dropped silently; full disks and a lock path that is a
folder leave the index as it was. Concurrency cases run real subprocesses and check what is
kept on disk afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_runner import run_cli

from genlab.errors import IndexCorruptError
from genlab.retrieval import CourseIndex
from genlab.retrieval.search import Searcher

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def built_faiss(session_home):
    from genlab.settings import get_settings

    os.environ["GENLAB_HOME"] = str(session_home)
    get_settings.cache_clear()
    CourseIndex("faiss").open()
    return session_home / "index" / "faiss"


@pytest.fixture
def index(built_faiss, tmp_path, monkeypatch):
    """A private copy of the session's FAISS index."""
    from genlab.settings import get_settings

    home = tmp_path / "home"
    shutil.copytree(built_faiss, home / "index" / "faiss", ignore=shutil.ignore_patterns(".lock"))
    monkeypatch.setenv("GENLAB_HOME", str(home))
    get_settings.cache_clear()
    return CourseIndex("faiss")


@pytest.fixture
def notes(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "lora.md").write_text("# LoRA\n\nLoRA fine-tunes a large model by training small low-rank matrices.\n")
    return folder


def _versions(index: CourseIndex) -> list[str]:
    return sorted(p.name for p in index.root.iterdir() if p.name.startswith(("v-", ".tmp-")))


# --- damaged artefacts: always detected, never exit 1 -------------------------------------------


def _random(path: Path) -> None:
    path.write_bytes(os.urandom(4096))


def _write_faiss(path: Path, width: int, rows: int) -> None:
    import faiss

    index = faiss.IndexFlatIP(width)
    index.add(np.ones((rows, width), dtype="float32"))
    faiss.write_index(index, str(path))


DAMAGE = {
    "CURRENT random bytes": lambda v, root: _random(root / "CURRENT"),
    "CURRENT names nothing": lambda v, root: (root / "CURRENT").write_text("v-20990101000000-deadbeef"),
    "manifest random bytes": lambda v, root: _random(v / "manifest.json"),
    "manifest not an object": lambda v, root: (v / "manifest.json").write_text("[1, 2, 3]"),
    "manifest count wrong": lambda v, root: (v / "manifest.json").write_text(
        json.dumps({**json.loads((v / "manifest.json").read_text()), "count": 3})
    ),
    "chunks random bytes": lambda v, root: _random(v / "chunks.json"),
    "chunk text tampered": lambda v, root: (v / "chunks.json").write_text(
        (v / "chunks.json").read_text().replace("GAN", "GAM", 1)
    ),
    "sentences random bytes": lambda v, root: _random(v / "sentences.json"),
    "sentence vectors random bytes": lambda v, root: _random(v / "sentences.npy"),
    "sentence vectors wrong width": lambda v, root: np.save(
        v / "sentences.npy", np.ones((len(json.loads((v / "sentences.json").read_text())), 10), dtype="float32")
    ),
    "chunk vectors random bytes": lambda v, root: _random(v / "vectors.faiss"),
    "chunk vectors wrong width": lambda v, root: _write_faiss(
        v / "vectors.faiss", 10, json.loads((v / "manifest.json").read_text())["count"]
    ),
    "keyword index random bytes": lambda v, root: _random(v / "keyword" / "data.csc.index.npy"),
    "keyword index missing": lambda v, root: shutil.rmtree(v / "keyword"),
    "manifest of another embedding model": lambda v, root: (v / "manifest.json").write_text(
        json.dumps({**json.loads((v / "manifest.json").read_text()), "embedding_model": "sentence-transformers/other-model"})
    ),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_every_damaged_artefact_is_detected_as_corruption(index, damage):
    version = index.load().folder
    DAMAGE[damage](version, index.root)
    with pytest.raises(IndexCorruptError, match=r"rebuild it with `genlab index --rebuild`"):
        index.load()


@pytest.mark.parametrize(
    ("damage", "command"),
    [
        ("CURRENT random bytes", ["ask", "What is a GAN?", "--json"]),
        ("manifest of another embedding model", ["index", "--json"]),
        ("chunk vectors wrong width", ["index", "--rebuild", "--json"]),
    ],
)
def test_damage_is_repaired_said_so_and_old_versions_cleaned_up(index, notes, damage, command, capsys):
    index.sync([str(notes)])
    DAMAGE[damage](index.load().folder, index.root)
    (index.root / "folders.json").unlink()  # and the record of added folders is lost too
    code, out, err = run_cli(command, capsys)
    assert code == 0, err
    json.loads(out)
    lines = err.strip().splitlines()
    assert all(line.startswith("genlab: warning: ") for line in lines), err
    if command[1:2] != ["--rebuild"]:
        assert any("rebuilding it" in line for line in lines)
    # The added folder could not be read back from anywhere: said so, not dropped silently.
    assert any("add your folders again" in line for line in lines), err
    version = index.load()
    assert len(version.chunks) > 100 and len(_versions(index)) <= 2
    assert Searcher(version).search("What is a GAN?", k=2)


def test_rebuild_without_the_folders_record_keeps_the_added_folders(index, notes, capsys):
    index.sync([str(notes)])
    (index.root / "folders.json").unlink()
    report = index.sync(rebuild=True)
    assert report.files == 6 and any("LoRA" in c.text for c in index.load().chunks)
    assert json.loads((index.root / "folders.json").read_text()) == [str(notes)]


# --- paths that cannot be indexed: refused, exit 2, not remembered -----------------------------


def _fifo(tmp: Path) -> str:
    path = tmp / "notes.md"
    os.mkfifo(path)
    return str(path)


def _empty(tmp: Path) -> str:
    path = tmp / "empty.md"
    path.write_text("")
    return str(path)


def _huge(tmp: Path) -> str:
    path = tmp / "huge.md"
    with path.open("wb") as handle:
        handle.truncate(6_000_000)  # sparse: 6 MB on paper
    return str(path)


def _no_notes(tmp: Path) -> str:
    (tmp / "pictures").mkdir()
    (tmp / "pictures" / "cat.png").write_bytes(b"\x89PNG")
    return str(tmp / "pictures")


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda tmp: "/dev/null", "not a regular file"),
        (_fifo, "not a regular file"),
        (_empty, "is empty"),
        (_huge, "over the 5 MB limit"),
        (_no_notes, "no .md, .txt or .pdf file"),
        (lambda tmp: str(tmp / "missing"), "no such file or folder"),
        (lambda tmp: str(Path(sys.executable)), "not a .md, .txt or .pdf file"),
    ],
)
def test_paths_that_cannot_be_indexed_are_refused_and_not_remembered(index, tmp_path, make, needle, capsys):
    before = (index.root / "folders.json").read_bytes(), (index.root / "CURRENT").read_bytes()
    code, out, err = run_cli(["index", make(tmp_path)], capsys)
    assert code == 2 and needle in err and err.count("\n") == 1 and out == ""
    assert ((index.root / "folders.json").read_bytes(), (index.root / "CURRENT").read_bytes()) == before


def test_files_inside_a_folder_that_cannot_be_indexed_are_skipped_with_a_line(index, notes, capsys):
    from pdf_files import write_pdf

    os.mkfifo(notes / "pipe.md")
    (notes / "blank.txt").write_text("   \n")
    with (notes / "huge.txt").open("wb") as handle:
        handle.truncate(6_000_000)
    write_pdf(notes / "scan.pdf", [None, None])
    code, out, err = run_cli(["index", str(notes)], capsys)
    assert code == 0, err
    warnings = err.strip().splitlines()
    assert all(line.startswith("genlab: warning: ") for line in warnings)
    text = "\n".join(warnings)
    assert "huge.txt is over the 5 MB limit" in text and "scan.pdf has no text layer" in text and "blank.txt has no text" in text
    assert f"added {notes}: 1 file indexed" in out
    assert {c.source for c in index.load().chunks if not c.source.endswith(".md") or "/" in c.source} == {str(notes / "lora.md")}


# --- one file, one set of chunks ----------------------------------------------------------------


def test_a_file_reached_through_symlinks_is_indexed_once_and_the_kept_name_said(index, notes, tmp_path):
    from genlab.retrieval.corpus import bundled_corpus_dir

    (notes / "alias.md").symlink_to(notes / "lora.md")
    bundled = next(bundled_corpus_dir().glob("*.md"))
    (notes / "course.md").symlink_to(bundled)
    other = tmp_path / "other"
    other.mkdir()
    (other / "again.md").symlink_to(notes / "lora.md")
    report = index.sync([str(notes), str(other)])
    assert sum("LoRA" in c.text for c in index.load().chunks) == 1
    assert report.files == 6
    said = "\n".join(report.warnings)
    assert f"alias.md is the same file as {notes / 'lora.md'}; indexed once, as {notes / 'lora.md'}" in said
    assert f"indexed once, as {bundled.name}" in said and "again.md" in said


EDIT_SCRIPT = """
import subprocess, sys
import genlab.retrieval.index as ix
path, new = sys.argv[1], sys.argv[2]
real = ix.embed_texts
def embed(texts, progress=None, batch_size=32):
    # Another process edits the file while this run is between reading and writing it.
    subprocess.run([sys.executable, "-c", "import sys; open(sys.argv[1], 'w').write(sys.argv[2])", path, new], check=True)
    return real(texts, progress, batch_size)
ix.embed_texts = embed
print(ix.CourseIndex("faiss").sync([path]).embedded)
"""


def test_a_file_edited_while_indexing_never_leaves_manifest_and_chunks_disagreeing(index, notes):
    import hashlib

    note = notes / "lora.md"
    old = note.read_bytes()
    new = "# LoRA\n\nLoRA adds trainable rank-decomposition matrices to frozen weights.\n"
    command = [sys.executable, "-c", EDIT_SCRIPT, str(note), new]
    proc = subprocess.run(command, env=dict(os.environ), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    version = index.load()
    entry = version.manifest["files"][str(note)]
    assert entry["sha256"] == hashlib.sha256(old).hexdigest()  # the hash of what was chunked...
    texts = [c.text for c in version.chunks if c.source == str(note)]
    assert any("low-rank matrices" in t for t in texts)  # ...and the chunks of that text
    again = index.sync()  # the edit is seen on the next run
    assert again.embedded == 1 and again.removed == 1
    assert [c.text for c in index.load().chunks if c.source == str(note)] == [new.split("\n\n", 1)[1].strip()]


KILL_REBUILD = """
import os, signal, sys
import genlab.retrieval.index as ix
def embed(texts, progress=None, batch_size=32):
    os.kill(os.getpid(), signal.SIGKILL)
ix.embed_texts = embed
ix.CourseIndex("faiss").sync(rebuild=True)
"""


def test_a_rebuild_killed_midway_leaves_the_previous_index(index, notes):
    index.sync([str(notes)])
    before = [c.id for c in index.load().chunks]
    proc = subprocess.run([sys.executable, "-c", KILL_REBUILD], env=dict(os.environ), capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert [c.id for c in index.load().chunks] == before
    assert json.loads((index.root / "folders.json").read_text()) == [str(notes)]


# --- writes that cannot happen: one line, exit 2, nothing changed -------------------------------


def test_a_lock_path_that_is_a_folder_changes_nothing(index, notes, capsys):
    (index.root / ".lock").unlink(missing_ok=True)
    (index.root / ".lock").mkdir()
    before = _versions(index), (index.root / "CURRENT").read_bytes()
    code, out, err = run_cli(["index", str(notes)], capsys)
    assert code == 2 and err.count("\n") == 1 and ".lock" in err and "nothing was changed" in err
    assert (_versions(index), (index.root / "CURRENT").read_bytes()) == before


def test_a_full_disk_while_indexing_changes_nothing(built_faiss, notes, tmp_path, monkeypatch, capsys):
    """A real full disk: a small tmpfs as GENLAB_HOME (needs root; skipped where mount is refused)."""
    from genlab.settings import get_settings

    mount = tmp_path / "disk"
    mount.mkdir()
    size = sum(p.stat().st_size for p in built_faiss.rglob("*") if p.is_file()) + 200_000
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        shutil.copytree(built_faiss, mount / "index" / "faiss", ignore=shutil.ignore_patterns(".lock", ".tmp-*"))
        monkeypatch.setenv("GENLAB_HOME", str(mount))
        get_settings.cache_clear()
        index = CourseIndex("faiss")
        before = _versions(index), (index.root / "CURRENT").read_bytes(), len(index.load().chunks)
        code, out, err = run_cli(["index", str(notes)], capsys)
        assert code == 2 and err.count("\n") == 1, err
        assert "No space left on device" in err and "nothing was changed" in err and str(mount) in err
        assert (_versions(index), (index.root / "CURRENT").read_bytes(), len(index.load().chunks)) == before
    finally:
        subprocess.run(["umount", str(mount)], check=False)
