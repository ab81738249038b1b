"""The course documents shipped with genlab, and reading user folders of notes.

The five course documents are shipped unchanged in ``genlab/retrieval/corpus``; their file
names and titles here are descriptive (the originals had hash names and, for some, no title
or a "Preface" first heading).

Each file is read once per index run: the hash recorded for it is the hash of the very
bytes its chunks are made from, so a file edited while an index run reads it can never
leave the manifest and the chunks disagreeing (the next run sees the new hash).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from genlab.errors import InvalidInputError

logger = logging.getLogger(__name__)

#: File types that are indexed.
TEXT_SUFFIXES = (".md", ".markdown", ".txt")
SUFFIXES = (*TEXT_SUFFIXES, ".pdf")
#: Largest note indexed: 5 MB of text is about 800,000 words, 5,000 chunks and half a
#: minute of embedding on a laptop; a 50 MB note took 5 minutes and 650 MB (issue 15).
MAX_TEXT_BYTES = 5_000_000
#: PDFs carry fonts and images beside their text, hence a larger limit.
MAX_PDF_BYTES = 50_000_000

BUNDLED_TITLES = {
    "getting-started-with-generative-models.md": "Getting started: first image and first text with generative models",
    "why-generative-models.md": "Why generative models? Applications from images to chatbots",
    "gans-vs-diffusion-models-llms-and-image-generation.md": "GANs vs diffusion models, LLMs and image generation",
    "introduction-to-generative-ai.md": "Introduction to generative AI",
    "generative-ai-fundamentals.md": "Generative AI fundamentals: models, VAEs and GANs",
}


def bundled_corpus_dir() -> Path:
    """The folder of the course documents inside the installed package."""
    return Path(__file__).resolve().parent / "corpus"


def size_limit(path: Path) -> int:
    """The largest file of ``path``'s type that is indexed, in bytes."""
    return MAX_PDF_BYTES if path.suffix.lower() == ".pdf" else MAX_TEXT_BYTES


@dataclass(frozen=True)
class SourceFile:
    """A document to index."""

    path: Path
    source: str
    """Its name in citations: the file name for the bundled documents, else the path."""
    title: str | None
    """A known title (bundled documents), else None: the first heading is used."""

    def read_bytes(self) -> bytes | None:
        """The file's bytes, read once; None (with a warning) when it is unreadable or too large."""
        limit = size_limit(self.path)
        try:
            with self.path.open("rb") as handle:
                data = handle.read(limit + 1)
        except OSError as exc:
            logger.warning("%s cannot be read (%s); skipped", self.source, exc.strerror or exc)
            return None
        if len(data) > limit:
            logger.warning("%s is over the %d MB limit for a %s file; skipped", self.source, limit // 1_000_000, _kind(self.path))
            return None
        return data

    def pages(self, data: bytes) -> list[tuple[int | None, str]]:
        """(page, text) parts of the document made from ``data``: one part (page None) for a
        text file, one per page with text for a PDF; empty when there is no text (warned)."""
        if self.path.suffix.lower() != ".pdf":
            return [(None, data.decode("utf-8", errors="replace"))]
        return read_pdf(data, self.source)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_pdf(data: bytes, source: str) -> list[tuple[int | None, str]]:
    """The text of each page of a PDF (1-based page numbers), with pypdf (pure Python)."""
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [(number, page.extract_text() or "") for number, page in enumerate(reader.pages, start=1)]
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        logger.warning("%s is not a readable PDF (%s); skipped", source, exc)
        return []
    found: list[tuple[int | None, str]] = [(number, text) for number, text in pages if text.strip()]
    if not found:
        logger.warning("%s has no text layer (a scanned PDF?); skipped, run OCR on it first", source)
    return found


_ONE_FILE = "a .md, .txt or .pdf file"


def _kind(path: Path) -> str:
    return "PDF" if path.suffix.lower() == ".pdf" else "text"


def check_folder(path: str | Path) -> Path:
    """Return ``path`` resolved if it is an existing folder of notes or a file to index.

    Raises:
        InvalidInputError: It does not exist; is a device, FIFO or socket; is a file of a type
            that is not indexed, empty, or over the size limit; or is a folder without notes.
    """
    given = Path(path).expanduser()
    try:
        info = given.stat()
    except FileNotFoundError:
        raise InvalidInputError(f"no such file or folder: {path}") from None
    except OSError as exc:
        raise InvalidInputError(f"{path} cannot be read ({exc.strerror}); give a folder of notes or {_ONE_FILE}") from None
    if stat.S_ISDIR(info.st_mode):
        if not any(True for _ in _walk(given)):
            raise InvalidInputError(f"{path} has no .md, .txt or .pdf file to index")
        return given.resolve()
    if not stat.S_ISREG(info.st_mode):
        raise InvalidInputError(
            f"{path} is not a regular file or folder (a device, FIFO or socket); give a folder of notes or {_ONE_FILE}"
        )
    if given.suffix.lower() not in SUFFIXES:
        raise InvalidInputError(f"{path} is not a .md, .txt or .pdf file; give a folder of notes or such a file")
    if info.st_size == 0:
        raise InvalidInputError(f"{path} is empty; there is nothing to index in it")
    if info.st_size > size_limit(given):
        limit = size_limit(given) // 1_000_000
        raise InvalidInputError(f"{path} is {info.st_size / 1e6:.1f} MB, over the {limit} MB limit for a {_kind(given)} file")
    return given.resolve()


_SKIPPED_DIRS = {"node_modules", "__pycache__", "site-packages"}


def _walk(root: Path) -> list[Path]:
    """The regular .md / .txt / .pdf files under ``root``, sorted, outside hidden and tool folders
    (.git, .venv, node_modules...). Symlinked folders are not followed (no loops); symlinked
    files are listed and deduplicated by what they point to."""
    found = []
    for folder, dirs, names in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED_DIRS)
        for name in sorted(names):
            path = Path(folder) / name
            if name.startswith(".") or path.suffix.lower() not in SUFFIXES:
                continue
            if path.is_file():  # follows a symlink; FIFOs, devices and dangling links are not files
                found.append(path)
    return sorted(found)


def list_sources(folders: list[str]) -> list[SourceFile]:
    """The bundled documents plus every .md / .txt / .pdf file under ``folders``.

    A file reached twice (through a symlink, or under two added folders) is indexed once,
    under the first name found (the bundled documents first, then the folders in order; in
    a folder, a file's own name before a symlink's), and a warning names both. Folders that
    have disappeared since they were added are skipped
    (their chunks are removed from the index).
    """
    files: dict[Path, SourceFile] = {}
    bundled = bundled_corpus_dir()
    for path in sorted(bundled.glob("*.md")):
        files[path.resolve()] = SourceFile(path, path.name, BUNDLED_TITLES.get(path.name))
    for folder in folders:
        root = Path(folder)
        if not root.exists():
            continue
        # A file's own name is kept over a symlink's to it (then the first name in order).
        candidates = [root] if root.is_file() else sorted(_walk(root), key=lambda p: (p.is_symlink(), str(p)))
        for path in candidates:
            real = path.resolve()
            if real in files:
                kept = files[real]
                if kept.path != path:
                    logger.warning("%s is the same file as %s; indexed once, as %s", path, kept.source, kept.source)
                continue
            files[real] = SourceFile(path, str(path), None)
    return list(files.values())
