"""Hybrid search: dense (embeddings) + BM25 (keywords), fused by reciprocal rank fusion.

Dense search finds paraphrases ("how do the two networks compete" -> the generator and the
discriminator); BM25 finds rare exact terms ("VAE", "CycleGAN") that a small embedding model
blurs. Reciprocal rank fusion (Cormack et al., 2009) combines the two rankings without
calibrating their scores against each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from genlab.errors import InvalidInputError
from genlab.retrieval.index import CourseIndex, IndexVersion, Progress, embed_texts
from genlab.retrieval.text import tokenize

Mode = Literal["hybrid", "dense", "bm25"]
#: The usual RRF constant: damps the weight of the very first ranks.
RRF_K = 60
MAX_K = 50


@dataclass
class Hit:
    """One retrieved chunk with its scores."""

    chunk: Any
    score: float
    """The fused score (``hybrid``), the cosine similarity (``dense``) or the BM25 score."""
    dense_score: float | None = None
    bm25_score: float | None = None
    dense_rank: int | None = None
    bm25_rank: int | None = None


def check_k(k: int) -> int:
    """Return ``k`` if it is a usable number of results.

    Raises:
        InvalidInputError: ``k`` is not between 1 and 50.
    """
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise InvalidInputError(f"k must be a whole number from 1 to {MAX_K}, got {k!r}")
    return k


def check_question(question: str, what: str = "question") -> str:
    """Return the question stripped.

    Raises:
        InvalidInputError: It is empty, whitespace, or over 2,000 characters.
    """
    if not isinstance(question, str) or not question.strip():
        raise InvalidInputError(f"the {what} is empty; ask something, e.g. 'What is a GAN?'")
    if len(question) > 2000:
        raise InvalidInputError(f"the {what} is {len(question)} characters long; at most 2000 are allowed")
    return question.strip()


class Searcher:
    """Searches one loaded index version; holds its BM25 index."""

    def __init__(self, version: IndexVersion) -> None:
        from rank_bm25 import BM25Okapi

        self.version = version
        corpus = [tokenize(c.context_text) for c in version.chunks]
        self._bm25 = BM25Okapi(corpus) if corpus else None

    def search(self, query: str, k: int = 4, mode: Mode = "hybrid", query_vector: Any = None) -> list[Hit]:
        """Return the ``k`` best chunks for ``query``."""
        query = check_question(query, "query")
        check_k(k)
        chunks = self.version.chunks
        pool = max(20, 4 * k)
        dense: list[tuple[int, float]] = []
        sparse: list[tuple[int, float]] = []
        if mode in ("hybrid", "dense"):
            if query_vector is None:
                query_vector = embed_texts([query])[0]
            dense = self.version.dense_search(query_vector, pool)
        if mode in ("hybrid", "bm25") and self._bm25 is not None:
            scores = self._bm25.get_scores(tokenize(query))
            order = sorted(range(len(scores)), key=lambda i: -scores[i])[:pool]
            sparse = [(i, float(scores[i])) for i in order if scores[i] > 0]
        if mode == "dense":
            return [Hit(chunks[i], s, dense_score=s, dense_rank=r + 1) for r, (i, s) in enumerate(dense[:k])]
        if mode == "bm25":
            return [Hit(chunks[i], s, bm25_score=s, bm25_rank=r + 1) for r, (i, s) in enumerate(sparse[:k])]
        fused: dict[int, Hit] = {}
        for rank, (i, s) in enumerate(dense, start=1):
            hit = fused.setdefault(i, Hit(chunks[i], 0.0))
            hit.score += 1.0 / (RRF_K + rank)
            hit.dense_score, hit.dense_rank = s, rank
        for rank, (i, s) in enumerate(sparse, start=1):
            hit = fused.setdefault(i, Hit(chunks[i], 0.0))
            hit.score += 1.0 / (RRF_K + rank)
            hit.bm25_score, hit.bm25_rank = s, rank
        return sorted(fused.values(), key=lambda h: -h.score)[:k]


_SEARCHERS: dict[tuple[str, str], Searcher] = {}


def get_searcher(store: str = "faiss", progress: Progress | None = None) -> tuple[Searcher, Any]:
    """Return a searcher over the live index of ``store`` (built on first use), and the build
    report when this call built or repaired it (else None).

    The searcher is cached per process and reloaded when another process switched versions.
    """
    index = CourseIndex(store)
    current = (index.root / "CURRENT").read_text().strip() if index.exists() else ""
    cached = _SEARCHERS.get((store, str(index.root)))
    if cached is not None and cached.version.folder.name == current:
        return cached, None
    version, report = index.open(progress=progress)
    searcher = Searcher(version)
    _SEARCHERS[(store, str(index.root))] = searcher
    return searcher, report
