"""The course documents shipped with genlab, and reading user folders of notes.

The five course documents are shipped unchanged in ``genlab/retrieval/corpus``; their file
names and titles here are descriptive (the originals had hash names and, for some, no title
or a "Preface" first heading).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from genlab.errors import InvalidInputError

#: File types that are indexed.
SUFFIXES = (".md", ".markdown", ".txt")

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


@dataclass(frozen=True)
class SourceFile:
    """A document to index."""

    path: Path
    source: str
    """Its name in citations: the file name for the bundled documents, else the path."""
    sha256: str
    title: str | None
    """A known title (bundled documents), else None: the first heading is used."""

    def read(self) -> str:
        return self.path.read_text(encoding="utf-8", errors="replace")


def _fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_folder(path: str | Path) -> Path:
    """Return ``path`` resolved if it is an existing folder or text file to index.

    Raises:
        InvalidInputError: It does not exist, or is a file of a type that is not indexed.
    """
    folder = Path(path).expanduser()
    if not folder.exists():
        raise InvalidInputError(f"no such file or folder: {path}")
    if folder.is_file() and folder.suffix.lower() not in SUFFIXES:
        raise InvalidInputError(f"{path} is not a .md or .txt file; give a folder of notes or such a file")
    if folder.is_dir() and not any(_indexable(p, folder) for p in folder.rglob("*")):
        raise InvalidInputError(f"{path} has no .md or .txt file to index")
    return folder.resolve()


_SKIPPED_DIRS = {"node_modules", "__pycache__", "site-packages"}


def _indexable(path: Path, root: Path) -> bool:
    """A .md / .txt file not inside a hidden or tool folder (.git, .venv, node_modules...)."""
    parts = path.relative_to(root).parts
    hidden = any(p.startswith(".") or p in _SKIPPED_DIRS for p in parts)
    return not hidden and path.suffix.lower() in SUFFIXES and path.is_file()


def list_sources(folders: list[str]) -> list[SourceFile]:
    """The bundled documents plus every .md / .txt file under ``folders`` (sorted, deduplicated).

    Folders that have disappeared since they were added are skipped (their chunks are removed
    from the index); unreadable files are skipped.
    """
    files: dict[Path, SourceFile] = {}
    bundled = bundled_corpus_dir()
    for path in sorted(bundled.glob("*.md")):
        files[path] = SourceFile(path, path.name, _fingerprint(path), BUNDLED_TITLES.get(path.name))
    for folder in folders:
        root = Path(folder)
        if not root.exists():
            continue
        candidates = [root] if root.is_file() else sorted(p for p in root.rglob("*") if _indexable(p, root))
        for path in candidates:
            if path in files:
                continue
            try:
                files[path] = SourceFile(path, str(path), _fingerprint(path), None)
            except OSError:
                continue
    return list(files.values())
