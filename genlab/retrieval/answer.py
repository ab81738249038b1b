"""The declared shape of a course answer: what :func:`genlab.retrieval.qa_chain` returns.

The chain returns plain dicts (what ``--json``, the web app and the agent pass on); these
models are its output schema, so ``qa_chain().get_output_schema()`` documents every field
and a caller can validate a result with ``CourseAnswer.model_validate(result)``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class CourseSource(BaseModel):
    """One retrieved passage, as cited by number in the answer (``[1]`` is the first)."""

    model_config = ConfigDict(extra="forbid")

    source: str
    """The document's file name (or path, for a folder added with ``genlab index --add``)."""
    title: str
    """The document's title."""
    section: str
    """The heading the passage is under."""
    score: float
    """Its fused retrieval score (higher is closer to the question)."""
    text: str
    """The passage itself."""
    page: int | None = None
    """The page of a PDF (absent for other files)."""
    rerank_score: float | None = None
    """The cross-encoder's score, when GENLAB_RERANKER_MODEL is set."""


class CourseAnswer(BaseModel):
    """An answer to a course question, with its sources."""

    model_config = ConfigDict(extra="forbid")

    question: str
    """The question, as asked."""
    answer: str
    """Sentences with ``[n]`` citations of :attr:`sources`, or a statement that the course does not cover it."""
    sources: list[CourseSource]
    """The retrieved passages, in rank order."""
    cited: list[int]
    """The source numbers the answer cites (1-based), ascending."""
    mode: Literal["extractive", "llm"]
    """``extractive``: sentences picked from the passages offline; ``llm``: written by the given model."""
    declined: bool
    """True when the answer says the course does not cover the question."""
