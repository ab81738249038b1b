"""Index versions as collections in a Chroma server (``GENLAB_CHROMA_URL``).

Collections, all named ``genlab-course-...``:

- ``genlab-course-meta``: one record ``live`` naming the live version (an upsert of one
  record is the atomic switch), ``folders`` (the folders users added), and
  ``manifest-<version>`` for each complete version;
- ``genlab-course-<version>-chunks``: the chunk vectors, texts and metadata (cosine space);
- ``genlab-course-<version>-sentences``: each chunk's sentences with their vectors.

A version is written into ``genlab-course-tmp-<version>-*`` collections, renamed when
complete, then its manifest is stored and ``live`` switched: a run killed or cut off at any
point leaves the previous version live, and an unfinished one is dropped later. Writers on
one machine take turns through a local lock file; nothing of Chroma is written locally
(the local folder holds that lock and a cache of each version's keyword index, which is
rebuilt from the chunks when missing). Everything goes through chromadb's public client
and collection objects and ``langchain_chroma.Chroma(client=...)``.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np

from genlab.errors import IndexCorruptError, IndexServerError
from genlab.retrieval.dense import IndexVersion
from genlab.retrieval.keyword import KeywordIndex, tokenizer_fingerprint
from genlab.retrieval.stores import IndexStore
from genlab.retrieval.stores.folder import ChromaVectors, check_width, file_lock
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

PREFIX = "genlab-course"
META = f"{PREFIX}-meta"
#: Records of the meta collection need a vector; this one means nothing.
_NO_VECTOR = [1.0]
#: An unfinished version's collections older than this were left by a run that died.
STALE_S = 3600
PAGE = 1000


class ServerVectors(ChromaVectors):
    """Chunk vectors in a server collection; a server that went away is one clear error."""

    def __init__(self, store: ChromaServerStore, wrapper: Any, collection: Any, positions: dict[str, int]) -> None:
        super().__init__(wrapper, collection, positions)
        self.store = store

    def search(self, query_vector: Any, n: int) -> list[tuple[int, float]]:
        with self.store.calls("searching the index"):
            return super().search(query_vector, n)

    def matrix(self) -> Any:
        with self.store.calls("reading the chunk vectors"):
            return super().matrix()


class ChromaServerStore(IndexStore):
    """``chroma`` with ``GENLAB_CHROMA_URL`` set."""

    kind = "chroma-server"

    def __init__(self, url: str, base: Path) -> None:
        parts = urlsplit(url)
        self.url = url.rstrip("/")
        self.location = self.url
        self.host = parts.hostname or "localhost"
        self.ssl = parts.scheme == "https"
        self.port = parts.port or (443 if self.ssl else 8000)
        self.root = base / "chroma-server" / re.sub(r"[^A-Za-z0-9.-]", "_", f"{self.host}-{self.port}")
        self._client: Any = None

    # --- talking to the server

    @contextlib.contextmanager
    def calls(self, doing: str) -> Iterator[None]:
        """Turn a server that does not answer into one line naming the URL."""
        try:
            yield
        except httpx.HTTPError as exc:
            raise IndexServerError(
                f"the Chroma server at {self.url} does not answer ({exc}) while {doing}; start it "
                f"(`chroma run --path DIR --host {self.host} --port {self.port}`) or unset GENLAB_CHROMA_URL"
            ) from None

    def client(self) -> Any:
        if self._client is None:
            import chromadb

            with self.calls("connecting"):
                try:
                    self._client = chromadb.HttpClient(
                        host=self.host, port=self.port, ssl=self.ssl, settings=chromadb.Settings(anonymized_telemetry=False)
                    )
                except ValueError as exc:  # chromadb's "Could not connect to a Chroma server"
                    raise IndexServerError(
                        f"the Chroma server at {self.url} does not answer ({exc}); start it "
                        f"(`chroma run --path DIR --host {self.host} --port {self.port}`) or unset GENLAB_CHROMA_URL"
                    ) from None
        return self._client

    def _meta(self) -> Any:
        return self.client().get_or_create_collection(META, embedding_function=None)

    def _meta_document(self, key: str) -> str | None:
        got = self._meta().get(ids=[key], include=["documents"])
        documents = got["documents"] or []
        return documents[0] if documents else None

    def _set_meta(self, key: str, value: str) -> None:
        self._meta().upsert(ids=[key], documents=[value], embeddings=[_NO_VECTOR])

    @staticmethod
    def _names(version: str, staging: bool = False) -> tuple[str, str]:
        middle = f"tmp-{version}" if staging else version
        return f"{PREFIX}-{middle}-chunks", f"{PREFIX}-{middle}-sentences"

    def _all(self, collection: Any, include: list[str]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {name: [] for name in ["ids", *include]}
        total = collection.count()
        for offset in range(0, total, PAGE):
            got = collection.get(include=include, limit=PAGE, offset=offset)
            for name in out:
                out[name].extend(got[name] if got[name] is not None else [])
        return out

    # --- the interface

    def lock(self) -> contextlib.AbstractContextManager[None]:
        return file_lock(self.root / ".lock")

    def live_name(self) -> str | None:
        with self.calls("reading which version is live"):
            name = self._meta_document("live")
        if name is None:
            return None
        if not VERSION_NAME.match(name):
            raise IndexCorruptError(
                f"the chroma index at {self.url} is damaged (its live record names {name[:40]!r}); "
                "rebuild it with `genlab index --rebuild`"
            )
        return name

    def read(self, name: str) -> IndexVersion:
        from langchain_chroma import Chroma

        chunks_name, sentences_name = self._names(name)
        with self.calls("reading the index"):
            raw_manifest = self._meta_document(f"manifest-{name}")
            if raw_manifest is None:
                raise ValueError(f"version {name} has no manifest")
            manifest = parse_manifest(raw_manifest, self.kind, self.url)
            client = self.client()
            chunk_collection = client.get_collection(chunks_name, embedding_function=None)
            stored = self._all(chunk_collection, ["documents", "metadatas"])
            sentence_collection = client.get_collection(sentences_name, embedding_function=None)
            sentence_rows = self._all(sentence_collection, ["documents", "metadatas", "embeddings"])
            check_width(chunk_collection, manifest.width)
        records = sorted(zip(stored["metadatas"], stored["documents"], strict=True), key=lambda r: r[0].get("row", -1))
        chunks = parse_chunks([{**{k: v for k, v in meta.items() if k != "row"}, "text": text} for meta, text in records])
        check_agreement(manifest, chunks)

        rows = zip(sentence_rows["metadatas"], sentence_rows["documents"], sentence_rows["embeddings"], strict=True)
        ordered = sorted(rows, key=lambda r: r[0]["row"])
        sentences = parse_sentences([[meta["owner"], text] for meta, text, _ in ordered], len(chunks))
        width = -1 if ordered else manifest.width
        matrix = np.asarray([vector for _, _, vector in ordered], dtype="float32").reshape(len(ordered), width)
        keyword = self._keyword(name, manifest.keyword, chunks)
        version = assemble_version(self.kind, name, manifest, chunks, sentences, matrix, keyword)
        wrapper = Chroma(client=self.client(), collection_name=chunks_name, create_collection_if_not_exists=False)
        version.vectors = ServerVectors(self, wrapper, chunk_collection, {c.id: i for i, c in enumerate(chunks)})
        return version

    def _keyword(self, name: str, fingerprint: str, chunks: list[Any]) -> KeywordIndex:
        """The version's keyword index from the local cache, built and cached when missing."""
        folder = self.root / name / "keyword"
        if fingerprint == tokenizer_fingerprint():
            with contextlib.suppress(OSError, ValueError):
                return KeywordIndex.load(folder, len(chunks))
        keyword = KeywordIndex.build([c.context_text for c in chunks])
        if fingerprint == tokenizer_fingerprint():
            self._cache_keyword(name, keyword)
        return keyword

    def _cache_keyword(self, name: str, keyword: KeywordIndex) -> None:
        staging = self.root / f".tmp-{name}-{secrets.token_hex(4)}"
        try:
            keyword.save(staging / "keyword")
            (self.root / name).mkdir(parents=True, exist_ok=True)
            staging.joinpath("keyword").replace(self.root / name / "keyword")
        except OSError:
            pass  # only a cache: the next process builds it again
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def write(self, version: NewVersion) -> str:
        name = new_version_name()
        staged = self._names(name, staging=True)
        final = self._names(name)
        with self.calls("writing a new version (the live one is unchanged)"):
            client = self.client()
            meta = {"hnsw:space": "cosine", "genlab_created": time.time()}
            try:
                chunks = client.create_collection(staged[0], metadata=meta, embedding_function=None)
                sentences = client.create_collection(staged[1], metadata=meta, embedding_function=None)
                step = max(1, min(PAGE, client.get_max_batch_size()))
                for start in range(0, len(version.chunks), step):
                    part = version.chunks[start : start + step]
                    chunks.add(
                        ids=[c.id for c in part],
                        embeddings=version.matrix[start : start + step].tolist(),
                        documents=[c.text for c in part],
                        metadatas=[{**c.metadata(), "row": start + i} for i, c in enumerate(part)],
                    )
                for start in range(0, len(version.sentences), step):
                    owned = version.sentences[start : start + step]
                    sentences.add(
                        ids=[f"s{start + i}" for i in range(len(owned))],
                        embeddings=version.sentence_matrix[start : start + step].tolist(),
                        documents=[text for _, text in owned],
                        metadatas=[{"owner": owner, "row": start + i} for i, (owner, _) in enumerate(owned)],
                    )
                sentences.modify(name=final[1])
                chunks.modify(name=final[0])
                self._set_meta(f"manifest-{name}", json.dumps(version.manifest.model_dump(), ensure_ascii=False))
            except BaseException:
                for leftover in (*staged, *final):
                    with contextlib.suppress(Exception):
                        client.delete_collection(leftover)
                raise
        self._cache_keyword(name, version.keyword)
        return name

    def switch(self, name: str) -> None:
        with self.calls("switching to the new version (the live one is unchanged)"):
            self._set_meta("live", name)

    def collect(self, keep: set[str]) -> list[str]:
        dropped: list[str] = []
        with self.calls("dropping old versions"):
            client = self.client()
            for collection in client.list_collections():
                match = re.fullmatch(rf"{PREFIX}-(tmp-)?(v-\d{{14}}-[0-9a-f]{{8}})-(chunks|sentences)", collection.name)
                if match is None:
                    continue
                staging, version = bool(match.group(1)), match.group(2)
                created = float((collection.metadata or {}).get("genlab_created", 0))
                if (staging and time.time() - created > STALE_S) or (not staging and version not in keep):
                    client.delete_collection(collection.name)
                    dropped.append(collection.name)
                    if not staging:
                        self._meta().delete(ids=[f"manifest-{version}"])
        for path in self.root.glob("v-*") if self.root.is_dir() else []:
            if path.name not in keep:
                shutil.rmtree(path, ignore_errors=True)
        return dropped

    def remembered_folders(self) -> list[str] | None:
        with self.calls("reading the added folders"):
            raw = self._meta_document("folders")
        return parse_folders(raw)

    def remember_folders(self, folders: list[str]) -> None:
        with self.calls("recording the added folders"):
            self._set_meta("folders", json.dumps(folders, ensure_ascii=False))
