"""The course index: incremental, idempotent, crash-safe, in any of the storage backends.

An index run plans (reads every source once, reuses the chunks of files whose bytes did not
change), embeds only chunks and sentences it has no vector for, assembles the new version
and hands it to the backend (:mod:`genlab.retrieval.stores`), which writes it beside the
live one and switches to it atomically. A run that changes nothing writes nothing; a run
killed at any moment leaves the previous version live; writers take a lock and run one
after the other; readers never lock.

Every read validates what it reads (:mod:`genlab.retrieval.stores.records`): a damaged
version, one from another genlab version or one built with another embedding model is
reported as :class:`~genlab.errors.IndexCorruptError` and rebuilt by :meth:`CourseIndex.open`
(with a warning) or by ``genlab index --rebuild``. Dense scoring lives in
:mod:`genlab.retrieval.dense`, the keyword index in :mod:`genlab.retrieval.keyword`.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from genlab.errors import IndexCorruptError, IndexWriteError, InvalidInputError
from genlab.retrieval.chunking import CHUNKER_VERSION, Chunk, chunk_document
from genlab.retrieval.corpus import SourceFile, check_folder, list_sources, sha256
from genlab.retrieval.dense import IndexVersion, Progress, chunk_sentences, embed_texts
from genlab.retrieval.keyword import KeywordIndex, tokenizer_fingerprint
from genlab.retrieval.stores import STORES, check_store, open_store
from genlab.retrieval.stores.records import FORMAT, Manifest, NewVersion
from genlab.settings import get_settings

__all__ = [
    "FORMAT",
    "STORES",
    "CourseIndex",
    "IndexReport",
    "IndexVersion",
    "Progress",
    "check_store",
    "chunk_sentences",
    "embed_texts",
]

logger = logging.getLogger(__name__)


class IndexReport(BaseModel):
    """What an index run did."""

    store: str
    """``faiss`` or ``chroma``."""
    path: str
    """Where the index is: a folder, or the Chroma server's URL."""
    files: int
    """Files in the index."""
    chunks: int
    """Chunks in the index."""
    embedded: int
    """Chunks embedded by this run (0 when nothing changed)."""
    removed: int
    """Chunks dropped because their file changed or disappeared."""
    changed: bool
    """Whether a new version was written."""
    repaired: bool = False
    """Whether a damaged index was found and rebuilt."""
    added: dict[str, int] = Field(default_factory=dict)
    """The paths added by this run, with how many of their files are indexed."""
    forgotten: list[str] = Field(default_factory=list)
    """The paths removed by this run (``--forget``)."""
    warnings: list[str] = Field(default_factory=list)
    """What was skipped or repaired, one line each (also logged)."""


class _Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextlib.contextmanager
def _collecting_warnings() -> Iterator[list[str]]:
    """The warnings genlab's retrieval modules log meanwhile (they are still logged)."""
    handler = _Collected()
    parent = logging.getLogger("genlab.retrieval")
    parent.addHandler(handler)
    try:
        yield handler.lines
    finally:
        parent.removeHandler(handler)


def _chroma_errors() -> tuple[type[BaseException], ...]:
    """chromadb's own errors (a damaged SQLite file, a missing collection), if chromadb was imported."""
    module = sys.modules.get("chromadb.errors")
    return (module.ChromaError,) if module is not None else ()


def _read_errors() -> tuple[type[BaseException], ...]:
    """What reading a damaged index raises (chromadb's errors once it is imported)."""
    return (OSError, ValueError, KeyError, TypeError, RuntimeError, sqlite3.DatabaseError, *_chroma_errors())


def chunk_source(source: SourceFile, data: bytes) -> list[Chunk]:
    """The chunks of a file from its bytes (a PDF page by page, each chunk with its page)."""
    chunks: list[Chunk] = []
    for page, text in source.pages(data):
        chunks.extend(chunk_document(text, source.source, source.title, page=page))
    for position, chunk in enumerate(chunks):
        chunk.position = position
    return list({c.id: c for c in chunks}.values())  # identical passages: one entry


def _files_under(files: dict[str, Any], path: str) -> int:
    """How many of the indexed files are ``path`` or lie under it."""
    return sum(1 for name in files if name == path or name.startswith(path.rstrip("/") + "/"))


@dataclass
class _Plan:
    """What the next version holds, and what of it must be embedded."""

    folders: list[str]
    chunks: list[Chunk] = field(default_factory=list)
    files: dict[str, Any] = field(default_factory=dict)
    to_embed: list[Chunk] = field(default_factory=list)
    removed: int = 0
    changed: bool = False
    sentences: list[tuple[int, str]] = field(default_factory=list)


class CourseIndex:
    """The index of the bundled course documents plus the folders a user added.

    Args:
        store: ``faiss`` or ``chroma`` (a Chroma server when ``GENLAB_CHROMA_URL`` is set).
        home: The folder local indexes live in; defaults to ``$GENLAB_HOME/index``.
    """

    def __init__(self, store: str = "faiss", home: str | Path | None = None) -> None:
        self.store = check_store(store)
        self.backend = open_store(store, Path(home) if home is not None else None)
        self.root = self.backend.root

    # --- reading ------------------------------------------------------------------------

    def live_name(self) -> str | None:
        """The live version's name; None when there is none or its pointer is damaged."""
        return self.backend.safe_live_name()

    def exists(self) -> bool:
        """Whether there is an index (possibly damaged) to open."""
        try:
            return self.backend.live_name() is not None
        except IndexCorruptError:
            return True

    def load(self) -> IndexVersion:
        """Load the live version.

        Raises:
            FileNotFoundError: There is no index yet.
            IndexCorruptError: The index is damaged, incomplete, from another genlab version, or
                built with another embedding model than the configured one.
            IndexServerError: The Chroma server does not answer.
        """
        name = self.backend.live_name()
        if name is None:
            raise FileNotFoundError(f"no {self.store} index in {self.backend.location} yet")
        try:
            version = self.backend.read(name)
        except _read_errors() as exc:
            reason = " ".join(str(exc).split())[:300] or type(exc).__name__
            raise IndexCorruptError(
                f"the {self.store} index in {self.backend.location} is damaged ({reason}); "
                "rebuild it with `genlab index --rebuild`"
            ) from exc
        wanted = get_settings().model_for("embedding")
        if version.manifest["embedding_model"] != wanted:
            raise IndexCorruptError(
                f"the {self.store} index in {self.backend.location} was built with the embedding model "
                f"{version.manifest['embedding_model']!r}, not the configured {wanted!r}; "
                "rebuild it with `genlab index --rebuild`"
            )
        return version

    def open(self, progress: Progress | None = None) -> tuple[IndexVersion, IndexReport | None]:
        """Load the live version, building it first if there is none, rebuilding it if damaged.

        Returns:
            The version and, when this call had to build or repair it, the report.
        """
        try:
            return self.load(), None
        except FileNotFoundError:
            report = self.sync(progress=progress)
        except IndexCorruptError as exc:
            logger.warning("%s; rebuilding it", exc)
            report = self.sync(rebuild=True, progress=progress)
            report.repaired = True
        return self.load(), report

    def listing(self) -> dict[str, Any]:
        """The added folders and the indexed files (with their chunk counts) of the live version."""
        version = self.load()
        files = {name: len(entry["chunks"]) for name, entry in version.manifest["files"].items()}
        return {"store": self.store, "path": self.backend.location, "folders": version.manifest["folders"], "files": files}

    # --- writing ------------------------------------------------------------------------

    def sync(
        self,
        add: list[str] | None = None,
        *,
        rebuild: bool = False,
        forget: list[str] | None = None,
        progress: Progress | None = None,
    ) -> IndexReport:
        """Bring the index up to date with the bundled documents and the added folders.

        Args:
            add: Folders or files of .md / .txt / .pdf notes to add (remembered for later runs).
            rebuild: Ignore what is on disk (e.g. a damaged index) and embed everything again.
            forget: Added folders or files to remove from the index (and from what is remembered).
            progress: Called with (texts embedded, texts to embed).

        Raises:
            InvalidInputError: A path to add cannot be indexed, or a path to forget was never added.
            IndexWriteError: The new version could not be written; the previous one is unchanged.
            IndexServerError: The Chroma server does not answer.
        """
        added = [str(check_folder(p)) for p in add or []]
        with _collecting_warnings() as lines, self.backend.lock():
            report = self._sync_locked(added, [str(Path(p).expanduser().resolve()) for p in forget or []], rebuild, progress)
        report.warnings = lines
        return report

    def _sync_locked(self, added: list[str], forget: list[str], rebuild: bool, progress: Progress | None) -> IndexReport:
        embedding_model = get_settings().model_for("embedding")
        old, repaired = self._previous(rebuild)
        folders = self._folders(old, added, forget)
        plan = self._plan(old, folders)
        report = IndexReport(
            store=self.store,
            path=self.backend.location,
            files=len(plan.files),
            chunks=len(plan.chunks),
            embedded=len(plan.to_embed),
            removed=plan.removed,
            changed=plan.changed,
            repaired=repaired,
            added={path: _files_under(plan.files, path) for path in added},
            forgotten=[f for f in forget],
        )
        if not plan.changed:
            return report
        matrix, sentence_matrix = self._embed(plan, old, progress)
        name = self.backend.write(self._assemble(plan, matrix, sentence_matrix, embedding_model))
        previous = self.backend.safe_live_name()
        self.backend.switch(name)
        try:
            self.backend.remember_folders(folders)
        except IndexWriteError as exc:  # the new version is live and lists them in its manifest
            logger.warning("the new index is live, but the list of added folders was not saved: %s", exc)
        # Keep the version readers may still have open; drop the older ones.
        self.backend.collect({name, previous} - {None})  # type: ignore[arg-type]
        return report

    def _previous(self, rebuild: bool) -> tuple[IndexVersion | None, bool]:
        """The live version to reuse vectors from, and whether it was found damaged."""
        if rebuild:
            return None, False
        try:
            return self.load(), False
        except FileNotFoundError:
            return None, False
        except IndexCorruptError as exc:
            logger.warning("%s; rebuilding it", exc)
            return None, True

    def _folders(self, old: IndexVersion | None, added: list[str], forget: list[str]) -> list[str]:
        """The folders of the next version: remembered ones, plus ``added``, minus ``forget``.

        A rebuild never drops added folders silently: when their record is lost and no
        readable version lists them, a warning says so.
        """
        remembered = old.manifest["folders"] if old is not None else self.backend.remembered_folders()
        if remembered is None:
            remembered = self._folders_of_live_version()
        if remembered is None:
            remembered = []
            if self.exists():
                logger.warning(
                    "the record of the folders you added to the %s index in %s is missing or damaged, and no readable "
                    "version lists them: this index holds the course documents and the paths given now only; "
                    "add your folders again with `genlab index PATH`",
                    self.store,
                    self.backend.location,
                )
        unknown = [f for f in forget if f not in remembered]
        if unknown:
            known = ", ".join(remembered) or "none"
            raise InvalidInputError(f"{unknown[0]} was never added to the index; the added folders and files are: {known}")
        return sorted((set(remembered) | set(added)) - set(forget))

    def _folders_of_live_version(self) -> list[str] | None:
        with contextlib.suppress(FileNotFoundError, IndexCorruptError):
            return list(self.load().manifest["folders"])
        return None

    def _plan(self, old: IndexVersion | None, folders: list[str]) -> _Plan:
        """Read every source once; reuse the chunks of unchanged files; find what to embed."""
        plan = _Plan(folders)
        old_manifest = old.manifest if old is not None else None
        old_files = old_manifest["files"] if old_manifest and old_manifest["chunker"] == CHUNKER_VERSION else {}
        old_chunks = {c.id: c for c in old.chunks} if old is not None else {}
        for source in list_sources(folders):
            data = source.read_bytes()
            if data is None:
                continue
            digest = sha256(data)  # the hash of the very bytes the chunks come from
            previous = old_files.get(source.source)
            if previous and previous["sha256"] == digest and all(i in old_chunks for i in previous["chunks"]):
                doc_chunks = [old_chunks[i] for i in previous["chunks"]]
            else:
                doc_chunks = chunk_source(source, data)
            if not doc_chunks:
                if source.path.suffix.lower() != ".pdf":  # a PDF without text was already named
                    logger.warning("%s has no text to index; skipped", source.source)
                continue
            plan.chunks.extend(doc_chunks)
            plan.files[source.source] = {"sha256": digest, "chunks": [c.id for c in doc_chunks]}
        plan.to_embed = [c for c in plan.chunks if c.id not in old_chunks]
        plan.removed = len(set(old_chunks) - {c.id for c in plan.chunks})
        plan.changed = bool(
            plan.to_embed
            or plan.removed
            or old_manifest is None
            or old_manifest["chunker"] != CHUNKER_VERSION
            or old_manifest["keyword"] != tokenizer_fingerprint()
            or plan.files != old_files
            or folders != old_manifest["folders"]
        )
        if plan.changed:
            plan.sentences = [(i, text) for i, c in enumerate(plan.chunks) for text in chunk_sentences(c)]
        return plan

    def _embed(self, plan: _Plan, old: IndexVersion | None, progress: Progress | None) -> tuple[Any, Any]:
        """The chunk and sentence matrices of the plan: old vectors reused, only new texts embedded."""
        old_vectors: dict[str, Any] = {}
        old_sentences: dict[tuple[str, str], Any] = {}
        width = old.width if old is not None else 0
        if old is not None:
            old_vectors = dict(zip((c.id for c in old.chunks), old.vectors.matrix(), strict=True))
            for (owner, text), vector in zip(old.sentences, old.sentence_vectors, strict=True):
                old_sentences[(old.chunks[owner].id, text)] = vector
        chunks = plan.chunks
        new_sentences = sorted({t for i, t in plan.sentences if (chunks[i].id, t) not in old_sentences})
        fresh_sentences: dict[str, Any] = {}
        if plan.to_embed or new_sentences or old is None:
            fresh = embed_texts([c.context_text for c in plan.to_embed] + new_sentences, progress)
            width = fresh.shape[1]
            old_vectors.update({c.id: fresh[i] for i, c in enumerate(plan.to_embed)})
            fresh_sentences = dict(zip(new_sentences, fresh[len(plan.to_embed) :], strict=True))
        matrix = np.asarray([old_vectors[c.id] for c in chunks], dtype="float32").reshape(len(chunks), width)
        sentence_matrix = np.asarray(
            [old_sentences.get((chunks[i].id, t), fresh_sentences.get(t)) for i, t in plan.sentences], dtype="float32"
        ).reshape(len(plan.sentences), width)
        return matrix, sentence_matrix

    def _assemble(self, plan: _Plan, matrix: Any, sentence_matrix: Any, embedding_model: str) -> NewVersion:
        """The complete next version, ready for the backend to write."""
        manifest = Manifest(
            format=FORMAT,
            store=self.backend.kind,
            embedding_model=embedding_model,
            chunker=CHUNKER_VERSION,
            keyword=tokenizer_fingerprint(),
            width=int(matrix.shape[1]),
            folders=plan.folders,
            files=plan.files,
            count=len(plan.chunks),
            created=time.time(),
        )
        keyword = KeywordIndex.build([c.context_text for c in plan.chunks])
        return NewVersion(manifest, plan.chunks, matrix, plan.sentences, sentence_matrix, keyword)
