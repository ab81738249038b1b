"""The course index on disk: incremental, idempotent, crash-safe; FAISS or Chroma.

Layout under ``$GENLAB_HOME/index/<store>/``::

    CURRENT              the name of the live version (replaced atomically)
    v-<time>-<hex>/      a complete version: manifest.json, chunks.json, the chunk vectors
                         (vectors.faiss, or a Chroma database in chroma/), and each chunk's
                         sentences with their vectors (sentences.json, sentences.npy)
    .lock                held while a version is written

A run builds the next version beside the live one and switches ``CURRENT`` with an atomic
rename only when it is complete, so a run killed at any moment leaves the previous version
usable and the next run starts over cleanly. The version before the live one is kept, so a
reader that opened it just before a switch can finish. Writers take a file lock (filelock);
two processes indexing at once run one after the other, and readers never lock.

Chunk ids are content hashes. A file whose bytes did not change keeps its chunks and
vectors; a changed file is re-chunked and only chunks with new text are embedded; a deleted
file's chunks are dropped; a run that changes nothing writes nothing. Nothing is pickled:
chunks and manifest are JSON, vectors are faiss's own format, Chroma's SQLite, or ``.npy``
read with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel

from genlab.errors import GenlabError, IndexCorruptError, InvalidInputError
from genlab.retrieval.chunking import CHUNKER_VERSION, Chunk, chunk_document
from genlab.retrieval.corpus import check_folder, list_sources

logger = logging.getLogger(__name__)

STORES = ("faiss", "chroma")
FORMAT = 2
Progress = Callable[[int, int], None]


class IndexReport(BaseModel):
    """What an index run did."""

    store: str
    path: str
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


def check_store(store: str) -> str:
    """Return ``store`` if it is a known vector store.

    Raises:
        InvalidInputError: It is not ``faiss`` or ``chroma``.
    """
    if store not in STORES:
        raise InvalidInputError(f"unknown store {store!r}; use faiss or chroma")
    return store


def embed_texts(texts: list[str], progress: Progress | None = None, batch_size: int = 32) -> Any:
    """Embed passages with the shared embedding model (normalized, float32 rows)."""
    import numpy as np

    from genlab.models import get_model

    model = get_model("embedding")
    width = model.get_sentence_embedding_dimension()
    out = np.zeros((len(texts), width), dtype="float32")
    # Batches of texts of similar length: padding a 10-word sentence to a 200-word chunk's
    # length would multiply the work (the encoder also sorts, but only within its batch).
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        out[rows] = np.asarray(model.encode([texts[i] for i in rows], normalize_embeddings=True), dtype="float32")
        if progress is not None:
            progress(min(start + batch_size, len(texts)), len(texts))
    return out


@dataclass
class IndexVersion:
    """One complete, loaded version of the index: chunks, their vectors, and how to search them."""

    store: str
    folder: Path
    manifest: dict[str, Any]
    chunks: list[Chunk]
    sentences: list[tuple[int, str]] = field(default_factory=list)
    """(chunk position, sentence) for every sentence of every chunk."""
    sentence_vectors: Any = None
    _faiss: Any = None
    _chroma: Any = field(default=None, repr=False)
    _positions: dict[str, int] = field(default_factory=dict, repr=False)
    _by_chunk: dict[str, dict[str, int]] | None = field(default=None, repr=False)

    def sentence_vectors_of(self, chunk_id: str) -> dict[str, Any]:
        """The stored vectors of a chunk's sentences, by sentence text (empty for an unknown chunk)."""
        if self._by_chunk is None:
            by_chunk: dict[str, dict[str, int]] = {}
            for row, (owner, text) in enumerate(self.sentences):
                by_chunk.setdefault(self.chunks[owner].id, {})[text] = row
            self._by_chunk = by_chunk
        rows = self._by_chunk.get(chunk_id, {})
        return {text: self.sentence_vectors[row] for text, row in rows.items()}

    def _chunk_search(self, query_vector: Any, n: int) -> list[tuple[int, float]]:
        import numpy as np

        if self.store == "faiss":
            scores, rows = self._faiss.search(np.asarray(query_vector, dtype="float32")[None], n)
            return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]
        if not self._positions:
            self._positions = {c.id: i for i, c in enumerate(self.chunks)}
        found = self._chroma.similarity_search_by_vector_with_relevance_scores(list(map(float, query_vector)), k=n)
        return [(self._positions[doc.metadata["id"]], 1.0 - float(distance)) for doc, distance in found]

    def dense_search(self, query_vector: Any, n: int) -> list[tuple[int, float]]:
        """Return (chunk position, score) of the ``n`` chunks nearest to the query.

        A chunk's score blends its own cosine similarity with that of its best sentence:
        a 160-word passage's single vector blurs the one sentence a question is about, and
        matching sentences too lifted dense hit@4 on the dev set from 0.80 to 0.93
        (benchmarks/retrieval_quality.py).
        """
        import numpy as np

        n = min(n, len(self.chunks))
        if n == 0:
            return []
        chunk_scores = dict(self._chunk_search(query_vector, n))
        if self.sentence_vectors is None or not len(self.sentences):
            return sorted(chunk_scores.items(), key=lambda item: -item[1])
        best = np.full(len(self.chunks), -1.0, dtype="float32")
        owners = np.fromiter((owner for owner, _ in self.sentences), dtype=np.int64, count=len(self.sentences))
        np.maximum.at(best, owners, self.sentence_vectors @ np.asarray(query_vector, dtype="float32"))
        # A chunk outside the store's top n scores at most the n-th chunk score.
        floor = min(chunk_scores.values())
        candidates = set(chunk_scores) | set(np.argsort(-best)[:n].tolist())
        blended = {}
        for i in candidates:
            own = chunk_scores.get(i, floor)
            blended[i] = 0.5 * own + 0.5 * max(own, float(best[i]))
        return sorted(blended.items(), key=lambda item: -item[1])[:n]


def chunk_sentences(chunk: Chunk) -> list[str]:
    """The sentences of a chunk that are embedded on their own (four words or more)."""
    from genlab.retrieval.text import clean_markdown, split_sentences

    return [s for s in split_sentences(clean_markdown(chunk.text)) if len(s.split()) >= 4]


def _chroma_errors() -> tuple[type[BaseException], ...]:
    """chromadb's own errors (a damaged SQLite file), if chromadb was imported."""
    import sys

    module = sys.modules.get("chromadb.errors")
    return (module.ChromaError,) if module is not None else ()


def _write_json(path: Path, data: Any) -> None:
    with path.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False)
        handle.flush()
        os.fsync(handle.fileno())


class CourseIndex:
    """The index of the bundled course documents plus the folders a user added.

    Args:
        store: ``faiss`` or ``chroma``.
        home: The folder indexes live in; defaults to ``$GENLAB_HOME/index``.
    """

    def __init__(self, store: str = "faiss", home: str | Path | None = None) -> None:
        from genlab.settings import get_settings

        self.store = check_store(store)
        base = Path(home) if home is not None else get_settings().home / "index"
        self.root = base / store

    # --- reading ------------------------------------------------------------------------

    def exists(self) -> bool:
        return (self.root / "CURRENT").is_file()

    def load(self) -> IndexVersion:
        """Load the live version.

        Raises:
            FileNotFoundError: There is no index yet.
            IndexCorruptError: The index on disk is damaged or incomplete.
        """
        pointer = self.root / "CURRENT"
        if not pointer.is_file():
            raise FileNotFoundError(str(pointer))
        name = pointer.read_text(encoding="utf-8").strip()
        folder = self.root / name
        try:
            if not name.startswith("v-") or not folder.is_dir():
                raise ValueError(f"CURRENT names {name!r}, which is missing")
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
            raw = json.loads((folder / "chunks.json").read_text(encoding="utf-8"))
            chunks = [Chunk(r["text"], r["source"], r["title"], r["section"], r["position"], r["id"]) for r in raw]
            if manifest.get("format") != FORMAT:
                raise IndexCorruptError(
                    f"the {self.store} index in {self.root} was written by another genlab version (format "
                    f"{manifest.get('format')!r}; this one reads format {FORMAT}); rebuild it with `genlab index --rebuild`"
                )
            if manifest.get("count") != len(chunks):
                raise ValueError("manifest and chunks disagree")
            version = IndexVersion(self.store, folder, manifest, chunks)
            import numpy as np

            version.sentences = [(int(i), str(t)) for i, t in json.loads((folder / "sentences.json").read_text(encoding="utf-8"))]
            version.sentence_vectors = np.load(folder / "sentences.npy", allow_pickle=False)
            if len(version.sentences) != len(version.sentence_vectors):
                raise ValueError("sentences and their vectors disagree")
            if self.store == "faiss":
                import faiss

                version._faiss = faiss.read_index(str(folder / "vectors.faiss"))
                if version._faiss.ntotal != len(chunks):
                    raise ValueError(f"{version._faiss.ntotal} vectors for {len(chunks)} chunks")
            else:
                version._chroma = self._open_chroma(folder)
                count = version._chroma._collection.count()
                if count != len(chunks):
                    raise ValueError(f"{count} vectors for {len(chunks)} chunks")
        except (OSError, ValueError, KeyError, TypeError, RuntimeError, sqlite3.DatabaseError, *_chroma_errors()) as exc:
            raise IndexCorruptError(
                f"the {self.store} index in {self.root} is damaged ({exc}); rebuild it with `genlab index --rebuild`"
            ) from exc
        return version

    def _vectors(self, version: IndexVersion) -> Any:
        import numpy as np

        if self.store == "faiss":
            return version._faiss.reconstruct_n(0, version._faiss.ntotal)
        got = version._chroma._collection.get(include=["embeddings"])
        by_id = dict(zip(got["ids"], got["embeddings"]))
        return np.asarray([by_id[c.id] for c in version.chunks], dtype="float32")

    @staticmethod
    def _open_chroma(folder: Path) -> Any:
        import chromadb
        from langchain_chroma import Chroma

        client = chromadb.PersistentClient(path=str(folder / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False))
        return Chroma(client=client, collection_name="course", collection_metadata={"hnsw:space": "cosine"})

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

    # --- writing ------------------------------------------------------------------------

    def sync(self, add: list[str] | None = None, *, rebuild: bool = False, progress: Progress | None = None) -> IndexReport:
        """Bring the index up to date with the bundled documents and the added folders.

        Args:
            add: Folders or files of .md / .txt notes to add (remembered for later runs).
            rebuild: Ignore what is on disk (e.g. a damaged index) and embed everything again.
            progress: Called with (chunks embedded, chunks to embed).

        Raises:
            InvalidInputError: A path to add does not exist or is not a .md / .txt file.
        """
        from filelock import FileLock

        added = [str(check_folder(p)) for p in add or []]
        self.root.mkdir(parents=True, exist_ok=True)
        from filelock import Timeout

        try:
            with FileLock(str(self.root / ".lock"), timeout=600):
                return self._sync_locked(added, rebuild, progress)
        except Timeout:
            raise GenlabError(f"another genlab index run has held {self.root / '.lock'} for 10 minutes; try again later") from None

    def _sync_locked(self, added: list[str], rebuild: bool, progress: Progress | None) -> IndexReport:
        import numpy as np

        from genlab.settings import get_settings

        embedding_model = get_settings().model_for("embedding")
        old: IndexVersion | None = None
        repaired = False
        if not rebuild:
            try:
                old = self.load()
            except FileNotFoundError:
                old = None
            except IndexCorruptError as exc:
                logger.warning("%s; rebuilding it", exc)
                repaired = True
        folders = sorted(set((old.manifest["folders"] if old else self._remembered_folders()) + added))
        if old is not None and old.manifest.get("embedding_model") != embedding_model:
            old = None  # vectors of another model cannot be mixed with new ones
        old_files = old.manifest["files"] if old and old.manifest.get("chunker") == CHUNKER_VERSION else {}
        old_chunks = {c.id: c for c in old.chunks} if old else {}
        old_vectors = {}
        old_sentences: dict[tuple[str, str], Any] = {}
        if old is not None:
            matrix = self._vectors(old)
            old_vectors = {c.id: matrix[i] for i, c in enumerate(old.chunks)}
            for (owner, text), vector in zip(old.sentences, old.sentence_vectors):
                old_sentences[(old.chunks[owner].id, text)] = vector

        chunks: list[Chunk] = []
        files: dict[str, Any] = {}
        for source in list_sources(folders):
            previous = old_files.get(source.source)
            if previous and previous["sha256"] == source.sha256 and all(i in old_chunks for i in previous["chunks"]):
                doc_chunks = [old_chunks[i] for i in previous["chunks"]]
            else:
                doc_chunks = chunk_document(source.read(), source.source, source.title)
            unique = list({c.id: c for c in doc_chunks}.values())  # identical passages: one entry
            chunks.extend(unique)
            files[source.source] = {"sha256": source.sha256, "chunks": [c.id for c in unique]}
        seen: set[str] = set()
        chunks = [c for c in chunks if not (c.id in seen or seen.add(c.id))]
        to_embed = [c for c in chunks if c.id not in old_vectors]
        removed = len(set(old_chunks) - {c.id for c in chunks})
        report = IndexReport(
            store=self.store,
            path=str(self.root),
            files=len(files),
            chunks=len(chunks),
            embedded=len(to_embed),
            removed=removed,
            changed=bool(
                to_embed
                or removed
                or old is None
                or old.manifest.get("chunker") != CHUNKER_VERSION
                or files.keys() != old_files.keys()
                or folders != old.manifest["folders"]
            ),
            repaired=repaired,
        )
        if not report.changed:
            return report
        sentences = [(i, text) for i, c in enumerate(chunks) for text in chunk_sentences(c)]
        new_sentences = sorted({t for i, t in sentences if (chunks[i].id, t) not in old_sentences})
        fresh = embed_texts([c.context_text for c in to_embed] + new_sentences, progress)
        fresh, fresh_sentences = fresh[: len(to_embed)], dict(zip(new_sentences, fresh[len(to_embed) :]))
        vectors = dict(old_vectors)
        vectors.update({c.id: fresh[i] for i, c in enumerate(to_embed)})
        width = fresh.shape[1]
        matrix = np.asarray([vectors[c.id] for c in chunks], dtype="float32").reshape(len(chunks), width)
        sentence_matrix = np.asarray(
            [old_sentences[(chunks[i].id, t)] if (chunks[i].id, t) in old_sentences else fresh_sentences[t] for i, t in sentences],
            dtype="float32",
        ).reshape(len(sentences), width)
        manifest = {
            "format": FORMAT,
            "store": self.store,
            "embedding_model": embedding_model,
            "chunker": CHUNKER_VERSION,
            "folders": folders,
            "files": files,
            "count": len(chunks),
            "created": time.time(),
        }
        self._write_version(manifest, chunks, matrix, sentences, sentence_matrix)
        return report

    def _remembered_folders(self) -> list[str]:
        """The folders added by earlier runs, kept beside the versions so a rebuild keeps them."""
        try:
            return list(json.loads((self.root / "folders.json").read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return []

    def _write_version(
        self, manifest: dict[str, Any], chunks: list[Chunk], matrix: Any, sentences: list[tuple[int, str]], sentence_matrix: Any
    ) -> None:
        name = f"v-{time.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(4)}"
        staging = self.root / f".tmp-{name}"
        staging.mkdir(parents=True)
        try:
            import numpy as np

            _write_json(staging / "chunks.json", [{"text": c.text, **c.metadata()} for c in chunks])
            _write_json(staging / "sentences.json", sentences)
            with (staging / "sentences.npy").open("wb") as handle:
                np.save(handle, sentence_matrix, allow_pickle=False)
                handle.flush()
                os.fsync(handle.fileno())
            if self.store == "faiss":
                import faiss

                index = faiss.IndexFlatIP(matrix.shape[1])
                index.add(matrix)
                faiss.write_index(index, str(staging / "vectors.faiss"))
            else:
                self._write_chroma(staging, chunks, matrix)
            _write_json(staging / "manifest.json", manifest)  # last: marks the version complete
            os.replace(staging, self.root / name)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        live = self.root / "CURRENT"
        previous = live.read_text(encoding="utf-8").strip() if live.is_file() else ""
        pointer = self.root / f".CURRENT-{secrets.token_hex(4)}"
        pointer.write_text(name, encoding="utf-8")
        os.replace(pointer, live)
        folders = self.root / f".folders-{secrets.token_hex(4)}"
        _write_json(folders, manifest["folders"])
        os.replace(folders, self.root / "folders.json")
        # Keep the version readers may still have open; drop the older ones.
        self._collect(keep={name, previous})

    def _write_chroma(self, staging: Path, chunks: list[Chunk], matrix: Any) -> None:
        import chromadb

        client = chromadb.PersistentClient(path=str(staging / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False))
        collection = client.get_or_create_collection("course", metadata={"hnsw:space": "cosine"})
        step = 256
        for start in range(0, len(chunks), step):
            part = chunks[start : start + step]
            collection.upsert(
                ids=[c.id for c in part],
                embeddings=matrix[start : start + step].tolist(),
                documents=[c.context_text for c in part],
                metadatas=[{k: v for k, v in c.metadata().items()} for c in part],
            )
        # Close the SQLite files before the folder is renamed.
        client.clear_system_cache()

    def _collect(self, keep: set[str]) -> None:
        """Remove versions older than the previous one and staging left by killed runs."""
        for path in self.root.iterdir():
            stale_staging = path.name.startswith((".tmp-", ".CURRENT-", ".folders-"))
            old_version = path.name.startswith("v-") and path.name not in keep
            if stale_staging or old_version:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
