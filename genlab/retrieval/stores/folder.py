"""Index versions as folders on disk: FAISS files, or a Chroma database per version.

Layout under ``$GENLAB_HOME/index/<store>/``::

    CURRENT              the name of the live version (replaced atomically)
    folders.json         the folders users added (kept apart, so a rebuild keeps them)
    v-<time>-<hex>/      a complete version: manifest.json, chunks.json, sentences.json,
                         sentences.npy, keyword/ (the BM25 index), and the chunk vectors
                         (vectors.faiss, or a Chroma database in chroma/)
    .lock                held while a version is written

A version is written into ``.tmp-<name>/`` and renamed into place only when complete, then
``CURRENT`` is switched by an atomic rename: a run killed at any moment leaves the previous
version live. Nothing is pickled: JSON, faiss's own format, Chroma's SQLite, and ``.npy``
read with ``allow_pickle=False``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
from filelock import FileLock, Timeout

from genlab.errors import GenlabError, IndexCorruptError, IndexWriteError
from genlab.retrieval.dense import ChunkVectors, IndexVersion
from genlab.retrieval.keyword import KeywordIndex, tokenizer_fingerprint
from genlab.retrieval.stores import IndexStore
from genlab.retrieval.stores.records import (
    VERSION_NAME,
    NewVersion,
    assemble_version,
    check_agreement,
    new_version_name,
    parse_chunks,
    parse_folders,
    parse_manifest,
    parse_sentences,
)

#: How long a writer waits for another one to finish.
LOCK_TIMEOUT_S = 600


def _nothing_changed(what: Path | str, exc: OSError) -> IndexWriteError:
    reason = exc.strerror or str(exc)
    return IndexWriteError(f"could not write {what} ({reason}); nothing was changed, the previous index is still in use")


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold the writers' lock at ``path``.

    Raises:
        IndexWriteError: The lock cannot be taken (its path is a folder, the folder is read-only).
        GenlabError: Another writer held it for :data:`LOCK_TIMEOUT_S` seconds.
    """
    if path.exists() and not path.is_file():
        raise IndexWriteError(f"cannot lock the index: {path} is not a file (remove it); nothing was changed")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path), timeout=LOCK_TIMEOUT_S)
        lock.acquire()
    except Timeout:
        raise GenlabError(f"another genlab index run has held {path} for 10 minutes; try again later") from None
    except OSError as exc:
        raise _nothing_changed(f"the index lock {path}", exc) from None
    try:
        yield
    finally:
        lock.release()


def write_file(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Write a file and flush it to disk; a failure names the file."""
    try:
        with path.open("wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise _nothing_changed(path, exc) from exc


def write_json(path: Path, data: Any) -> None:
    payload = json.dumps(data, ensure_ascii=False).encode("utf-8")
    write_file(path, lambda handle: handle.write(payload))


def replace_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Write ``path`` through a temporary file beside it and one rename."""
    temporary = path.parent / f".{path.name}-{secrets.token_hex(4)}"
    try:
        write(temporary)
        os.replace(temporary, path)
    except OSError as exc:
        raise _nothing_changed(path, exc) from exc
    finally:
        temporary.unlink(missing_ok=True)


class FolderStore(IndexStore):
    """Versions as folders under ``root``; subclasses say how chunk vectors are kept."""

    kind = ""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)

    # --- the format of the chunk vectors (the only difference between the two folder stores)

    def _write_vectors(self, staging: Path, version: NewVersion) -> None:
        raise NotImplementedError

    def _open_vectors(self, folder: Path, version: IndexVersion) -> ChunkVectors:
        raise NotImplementedError

    # --- the interface

    def lock(self) -> contextlib.AbstractContextManager[None]:
        return file_lock(self.root / ".lock")

    def live_name(self) -> str | None:
        pointer = self.root / "CURRENT"
        if not pointer.exists():
            return None
        try:
            name = pointer.read_bytes().decode("utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise IndexCorruptError(self._damaged(f"its CURRENT pointer is unreadable: {exc}")) from exc
        if not VERSION_NAME.match(name) or not (self.root / name).is_dir():
            raise IndexCorruptError(self._damaged(f"CURRENT names {name[:40]!r}, which is not a version here"))
        return name

    def _damaged(self, reason: str) -> str:
        return f"the {self.kind} index in {self.root} is damaged ({reason}); rebuild it with `genlab index --rebuild`"

    def read(self, name: str) -> IndexVersion:
        folder = self.root / name
        manifest = parse_manifest((folder / "manifest.json").read_bytes(), self.kind, self.location)
        chunks = parse_chunks(json.loads((folder / "chunks.json").read_bytes()))
        check_agreement(manifest, chunks)
        sentences = parse_sentences(json.loads((folder / "sentences.json").read_bytes()), len(chunks))
        with (folder / "sentences.npy").open("rb") as handle:
            matrix = np.load(handle, allow_pickle=False)
        if manifest.keyword == tokenizer_fingerprint():
            keyword = KeywordIndex.load(folder / "keyword", len(chunks))
        else:  # made with another tokenizer: rebuilt here, in memory, until the next index run
            keyword = KeywordIndex.build([c.context_text for c in chunks])
        version = assemble_version(self.kind, name, manifest, chunks, sentences, matrix, keyword, folder)
        version.vectors = self._open_vectors(folder, version)
        return version

    def write(self, version: NewVersion) -> str:
        name = new_version_name()
        staging = self.root / f".tmp-{name}"
        try:
            staging.mkdir(parents=True)
            write_json(staging / "chunks.json", [{"text": c.text, **c.metadata()} for c in version.chunks])
            write_json(staging / "sentences.json", version.sentences)
            write_file(staging / "sentences.npy", lambda h: np.save(h, version.sentence_matrix, allow_pickle=False))
            try:
                version.keyword.save(staging / "keyword")
            except OSError as exc:
                raise _nothing_changed(staging / "keyword", exc) from exc
            self._write_vectors(staging, version)
            write_json(staging / "manifest.json", version.manifest.model_dump())  # last: marks the version complete
            os.replace(staging, self.root / name)
        except OSError as exc:
            raise _nothing_changed(staging, exc) from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return name

    def switch(self, name: str) -> None:
        pointer = self.root / f".CURRENT-{secrets.token_hex(4)}"
        try:
            pointer.write_text(name, encoding="utf-8")
            os.replace(pointer, self.root / "CURRENT")
        except OSError as exc:
            pointer.unlink(missing_ok=True)
            raise _nothing_changed(self.root / "CURRENT", exc) from exc

    def collect(self, keep: set[str]) -> list[str]:
        dropped = []
        for path in self.root.iterdir():
            stale_staging = path.name.startswith((".tmp-", ".CURRENT-", ".folders.json-"))
            old_version = path.name.startswith("v-") and path.name not in keep
            if stale_staging or old_version:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
                dropped.append(path.name)
        return dropped

    def remembered_folders(self) -> list[str] | None:
        try:
            raw = (self.root / "folders.json").read_bytes()
        except OSError:
            return None
        return parse_folders(raw)

    def remember_folders(self, folders: list[str]) -> None:
        replace_atomically(self.root / "folders.json", lambda path: write_json(path, folders))


class FaissVectors:
    """Chunk vectors in a flat inner-product FAISS index (exact cosine on normalized rows)."""

    def __init__(self, index: Any) -> None:
        self.index = index

    def search(self, query_vector: Any, n: int) -> list[tuple[int, float]]:
        scores, rows = self.index.search(query_vector[None], n)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]

    def matrix(self) -> Any:
        return self.index.reconstruct_n(0, self.index.ntotal)


class FaissFolderStore(FolderStore):
    """``faiss``: a ``vectors.faiss`` file per version."""

    kind = "faiss"

    def _write_vectors(self, staging: Path, version: NewVersion) -> None:
        import faiss

        index = faiss.IndexFlatIP(version.manifest.width)
        index.add(version.matrix)
        # Serialized here and written by Python, so that a full disk is an OSError naming the file.
        data = faiss.serialize_index(index)
        write_file(staging / "vectors.faiss", lambda handle: handle.write(data.tobytes()))

    def _open_vectors(self, folder: Path, version: IndexVersion) -> ChunkVectors:
        import faiss

        path = folder / "vectors.faiss"
        if not path.is_file():
            raise ValueError("vectors.faiss is missing")
        index = faiss.read_index(str(path))
        if index.ntotal != len(version.chunks) or index.d != version.width:
            raise ValueError(f"{index.ntotal} vectors {index.d} wide for {len(version.chunks)} chunks {version.width} wide")
        return FaissVectors(index)


class ChromaVectors:
    """Chunk vectors in a Chroma collection, searched through ``langchain_chroma.Chroma``."""

    def __init__(self, wrapper: Any, collection: Any, positions: dict[str, int]) -> None:
        self.wrapper = wrapper
        self.collection = collection
        self.positions = positions

    def search(self, query_vector: Any, n: int) -> list[tuple[int, float]]:
        found = self.wrapper.similarity_search_by_vector_with_relevance_scores(list(map(float, query_vector)), k=n)
        # The collection is made with cosine space: the "score" Chroma returns is the distance.
        return [(self.positions[doc.metadata["id"]], 1.0 - float(distance)) for doc, distance in found]

    def matrix(self) -> Any:
        got = self.collection.get(include=["embeddings"])
        by_id = dict(zip(got["ids"], got["embeddings"], strict=True))
        order = sorted(self.positions, key=self.positions.__getitem__)
        return np.asarray([by_id[i] for i in order], dtype="float32")


def check_width(collection: Any, width: int) -> None:
    """A Chroma collection's vectors are ``width`` wide (one is read to see)."""
    got = collection.get(limit=1, include=["embeddings"])
    embeddings = got["embeddings"]
    if embeddings is not None and len(embeddings) and len(embeddings[0]) != width:
        raise ValueError(f"the Chroma vectors are {len(embeddings[0])} wide, the manifest says {width}")


def chroma_rows(version: NewVersion, start: int, stop: int) -> dict[str, Any]:
    """One batch of a version's chunks as Chroma records."""
    part = version.chunks[start:stop]
    return {
        "ids": [c.id for c in part],
        "embeddings": version.matrix[start:stop].tolist(),
        "documents": [c.context_text for c in part],
        "metadatas": [c.metadata() for c in part],
    }


class ChromaFolderStore(FolderStore):
    """``chroma``: a local Chroma database (``chroma/``) per version."""

    kind = "chroma"
    COLLECTION = "course"

    @staticmethod
    def _client(path: Path) -> Any:
        import chromadb

        return chromadb.PersistentClient(path=str(path), settings=chromadb.Settings(anonymized_telemetry=False))

    def _write_vectors(self, staging: Path, version: NewVersion) -> None:
        client = self._client(staging / "chroma")
        collection = client.get_or_create_collection(self.COLLECTION, metadata={"hnsw:space": "cosine"}, embedding_function=None)
        step = 256
        for start in range(0, len(version.chunks), step):
            collection.upsert(**chroma_rows(version, start, start + step))
        # Close the SQLite files before the folder is renamed.
        client.clear_system_cache()

    def _open_vectors(self, folder: Path, version: IndexVersion) -> ChunkVectors:
        from langchain_chroma import Chroma

        if not (folder / "chroma").is_dir():
            raise ValueError("the Chroma database is missing")
        client = self._client(folder / "chroma")
        collection = client.get_collection(self.COLLECTION, embedding_function=None)
        count = collection.count()
        if count != len(version.chunks):
            raise ValueError(f"{count} vectors for {len(version.chunks)} chunks")
        check_width(collection, version.width)
        wrapper = Chroma(client=client, collection_name=self.COLLECTION, create_collection_if_not_exists=False)
        return ChromaVectors(wrapper, collection, {c.id: i for i, c in enumerate(version.chunks)})
