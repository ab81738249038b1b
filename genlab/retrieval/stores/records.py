"""What every index version holds, validated on every read.

A version is read back from files or from a server that another process, a crash or a
person may have damaged; each artefact is checked against these models and against the
others (counts, vector widths, chunk ids that are content hashes) before it is used, so a
damaged version is reported as such instead of failing later in a search.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from genlab.errors import IndexCorruptError
from genlab.retrieval.chunking import Chunk
from genlab.retrieval.dense import IndexVersion

#: Bumped when what a version holds changes; 3 added the saved keyword index and the width.
FORMAT = 3
VERSION_NAME = re.compile(r"^v-\d{14}-[0-9a-f]{8}$")


def new_version_name() -> str:
    """A fresh version name, ``v-<time>-<hex>`` (the form :data:`VERSION_NAME` accepts)."""
    return f"v-{time.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(4)}"


class FileEntry(BaseModel):
    """A source file as indexed."""

    model_config = ConfigDict(extra="forbid", strict=True)

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """The hash of the bytes its chunks were made from."""
    chunks: list[str]
    """Its chunks' ids, in order."""


class Manifest(BaseModel):
    """What a version was built from and with."""

    model_config = ConfigDict(extra="forbid", strict=True)

    format: int
    """:data:`FORMAT` of the genlab that wrote it."""
    store: str
    """``faiss``, ``chroma`` or ``chroma-server``."""
    embedding_model: str
    """The embedding model its vectors come from."""
    chunker: int
    """The chunker's version."""
    keyword: str
    """The tokenizer fingerprint its keyword index was built with."""
    width: int = Field(gt=0)
    """Width of every vector in the version."""
    folders: list[str]
    """Folders and files the user added."""
    files: dict[str, FileEntry]
    """Every indexed file by its source name."""
    count: int = Field(ge=0)
    """Number of chunks."""
    created: float
    """When it was written (seconds since the epoch)."""


class ChunkRecord(BaseModel):
    """A chunk as stored."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: str
    text: str
    source: str
    title: str
    section: str
    position: int
    page: int | None = None


def parse_manifest(raw: Any, kind: str, location: str) -> Manifest:
    """Validate a manifest read back.

    Raises:
        IndexCorruptError: It comes from another genlab version (named as such).
        ValueError: It is not a valid manifest.
    """
    if isinstance(raw, (str, bytes)):
        raw = json.loads(raw)
    if not isinstance(raw, dict):
        raise ValueError("the manifest is not a JSON object")
    if raw.get("format") != FORMAT:
        raise IndexCorruptError(
            f"the {kind} index in {location} was written by another genlab version (format "
            f"{raw.get('format')!r}; this one reads format {FORMAT}); rebuild it with `genlab index --rebuild`"
        )
    return Manifest.model_validate(raw)


def parse_chunks(raw: Any) -> list[Chunk]:
    """Chunks from their stored records; each id must be the hash of its content."""
    if not isinstance(raw, list):
        raise ValueError("the chunks are not a JSON list")
    chunks = []
    for item in raw:
        record = ChunkRecord.model_validate(item)
        chunk = Chunk(record.text, record.source, record.title, record.section, record.position, page=record.page)
        if chunk.id != record.id:
            raise ValueError(f"chunk {record.id} does not hold the text it was made from")
        chunks.append(chunk)
    return chunks


def parse_sentences(raw: Any, chunks: int) -> list[tuple[int, str]]:
    """(chunk position, sentence) pairs; every position must name a chunk."""
    if not isinstance(raw, list):
        raise ValueError("the sentences are not a JSON list")
    out = []
    for item in raw:
        if not (isinstance(item, list) and len(item) == 2 and type(item[0]) is int and isinstance(item[1], str)):
            raise ValueError("a sentence record is not [chunk, text]")
        if not 0 <= item[0] < chunks:
            raise ValueError(f"a sentence belongs to chunk {item[0]} of {chunks}")
        out.append((item[0], item[1]))
    return out


def check_matrix(matrix: Any, rows: int, width: int, what: str) -> Any:
    """Return ``matrix`` as float32 if it is ``rows`` x ``width`` finite numbers."""
    if not isinstance(matrix, np.ndarray) or matrix.dtype.kind != "f" or matrix.ndim != 2:
        raise ValueError(f"the {what} are not a matrix of numbers")
    if matrix.shape != (rows, width) and not (rows == 0 and matrix.shape[0] == 0):
        raise ValueError(f"the {what} are {matrix.shape[0]} x {matrix.shape[1]}, expected {rows} x {width}")
    matrix = matrix.astype("float32", copy=False)
    if rows and not math.isfinite(float(matrix.sum())):
        raise ValueError(f"the {what} hold values that are not numbers")
    return matrix


def check_agreement(manifest: Manifest, chunks: list[Chunk]) -> None:
    """The manifest and the chunks describe the same index."""
    if manifest.count != len(chunks):
        raise ValueError(f"the manifest counts {manifest.count} chunks, the version holds {len(chunks)}")
    ids = {c.id for c in chunks}
    if len(ids) != len(chunks):
        raise ValueError("a chunk is stored twice")
    listed = {i for entry in manifest.files.values() for i in entry.chunks}
    if listed != ids:
        raise ValueError("the manifest's files and the chunks disagree")


def parse_folders(raw: str | bytes | None) -> list[str] | None:
    """The record of the folders users added; None when it is missing or not a JSON list of strings."""
    if raw is None:
        return None
    try:
        folders = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(folders, list) or not all(isinstance(f, str) for f in folders):
        return None
    return folders


def assemble_version(
    kind: str,
    name: str,
    manifest: Manifest,
    chunks: list[Chunk],
    sentences: list[tuple[int, str]],
    sentence_matrix: Any,
    keyword: Any,
    folder: Path | None = None,
) -> IndexVersion:
    """A version read back, its sentence vectors checked; the store then sets its chunk vectors.

    Raises:
        ValueError: The sentence vectors do not fit the sentences or the manifest's width.
    """
    return IndexVersion(
        kind,
        name,
        manifest.model_dump(),
        chunks,
        vectors=None,  # type: ignore[arg-type]  # set by the store, which may need the version to open them
        sentences=sentences,
        sentence_vectors=check_matrix(sentence_matrix, len(sentences), manifest.width, "sentence vectors"),
        keyword=keyword,
        folder=folder,
    )


@dataclass
class NewVersion:
    """Everything a backend writes for one version."""

    manifest: Manifest
    chunks: list[Chunk]
    matrix: Any
    """Chunk vectors, one row per chunk."""
    sentences: list[tuple[int, str]]
    sentence_matrix: Any
    keyword: Any
    """The :class:`genlab.retrieval.keyword.KeywordIndex` of the chunks."""
