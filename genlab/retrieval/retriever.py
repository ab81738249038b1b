"""The course index as a LangChain retriever."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import field_validator

from genlab.retrieval.index import check_store
from genlab.retrieval.search import Fusion, Mode, check_fusion, check_k, get_searcher


class CourseRetriever(BaseRetriever):
    """Hybrid (dense + BM25) search over the course documents and the folders added to the index.

    Each document's metadata holds ``source``, ``title``, ``section``, ``score`` (the fused
    score), and ``dense_score`` / ``bm25_score`` with their ranks; with a reranker
    (``GENLAB_RERANKER_MODEL``) also ``rerank_score``, the order it sets.
    """

    k: int = 4
    """How many passages to return."""
    store: str = "faiss"
    """``faiss`` or ``chroma``."""
    mode: Mode = "hybrid"
    """``hybrid`` (default), ``dense`` or ``bm25``."""
    fusion: Fusion = "relative"
    """How ``hybrid`` fuses the rankings: ``relative`` (default; weighted, min-max scaled
    scores) or ``rrf`` (reciprocal rank fusion)."""

    @field_validator("k")
    @classmethod
    def _k(cls, value: int) -> int:
        return check_k(value)

    @field_validator("store")
    @classmethod
    def _store(cls, value: str) -> str:
        return check_store(value)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        searcher, _ = get_searcher(self.store)
        docs = []
        for hit in searcher.search(query, k=self.k, mode=self.mode, fusion=self.fusion):
            meta: dict[str, Any] = {
                "id": hit.chunk.id,
                "source": hit.chunk.source,
                "title": hit.chunk.title,
                "section": hit.chunk.section,
                "score": hit.score,
                "dense_score": hit.dense_score,
                "dense_rank": hit.dense_rank,
                "bm25_score": hit.bm25_score,
                "bm25_rank": hit.bm25_rank,
            }
            if hit.rerank_score is not None:
                meta["rerank_score"] = hit.rerank_score
            docs.append(Document(page_content=hit.chunk.text, metadata=meta, id=hit.chunk.id))
        return docs


def course_retriever(k: int = 4, store: str = "faiss", fusion: str = "relative") -> CourseRetriever:
    """Return a retriever over the course index (built on first use).

    Args:
        k: How many passages to return (1 to 50).
        store: ``faiss`` or ``chroma``.
        fusion: ``relative`` (default) or ``rrf``; see :mod:`genlab.retrieval.search`.

    Raises:
        InvalidInputError: ``k`` is not from 1 to 50, or ``store`` or ``fusion`` is unknown.
    """
    # Checked here too so that the caller gets InvalidInputError, not pydantic's wrapper.
    return CourseRetriever(k=check_k(k), store=check_store(store), fusion=check_fusion(fusion))
