"""Retrieval over the course documents: index, hybrid search, question answering with citations.

- :func:`course_retriever`: a LangChain retriever (dense + BM25, fused by relative scores or RRF).
- :func:`qa_chain`: a Runnable answering with inline citations, extractively (offline) or with an LLM.
- :data:`search_course`: the agent's tool.
- :class:`CourseIndex`: the incremental, crash-safe index on disk (FAISS or Chroma).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from genlab._lazy import lazy_getattr

if TYPE_CHECKING:
    from genlab.retrieval.answer import CourseAnswer, CourseSource
    from genlab.retrieval.index import CourseIndex, IndexReport
    from genlab.retrieval.qa import answer_question, qa_chain
    from genlab.retrieval.retriever import CourseRetriever, course_retriever
    from genlab.retrieval.tool import search_course

# Resolved on first use: `import genlab.retrieval` must not import langchain or faiss.
_LAZY = {
    "CourseAnswer": "genlab.retrieval.answer",
    "CourseSource": "genlab.retrieval.answer",
    "CourseIndex": "genlab.retrieval.index",
    "IndexReport": "genlab.retrieval.index",
    "answer_question": "genlab.retrieval.qa",
    "qa_chain": "genlab.retrieval.qa",
    "CourseRetriever": "genlab.retrieval.retriever",
    "course_retriever": "genlab.retrieval.retriever",
    "search_course": "genlab.retrieval.tool",
}

__all__ = sorted(_LAZY)


__getattr__ = lazy_getattr(__name__, _LAZY)
