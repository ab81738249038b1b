"""Map-reduce summarizing: the one set of rules behind the ``summarize`` tool and ``summarize_document``.

A text that fits one call of the summary model is summarized in that call. A longer text
is split into parts that each fit; each part is summarized ("map"); the summaries are
joined and, while they do not fit one call, split and summarized again ("reduce"), until
one final call takes them all. Two rules keep it from running forever: every round must
make the text shorter (else :class:`~genlab.errors.ModelOutputError`: the model does not
summarize), and at most :data:`MAX_ROUNDS` rounds are run.

What "fits" means is the model's business (a :class:`Fitter`, asked through the ``"plan"`` stage): the summary model counts its
own tokens and prompt; an LLM given to ``summarize_document`` counts characters. The steps
are :mod:`genlab.steps`, so the tool runs them one call at a time and the chain batches
the calls of many documents.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple, Protocol

from pydantic import BaseModel

from genlab.errors import ModelOutputError
from genlab.steps import Ask, Steps

logger = logging.getLogger(__name__)

#: Reduce rounds before giving up (each round divides the text by about four).
MAX_ROUNDS = 12


class Fitter(Protocol):
    """How a summary model measures text: what fits one call, and how to split what does not."""

    def fits(self, text: str, final: bool, max_words: int | None = None) -> bool:
        """Whether ``text`` goes through one call (a part's, or the ``final`` one) untruncated."""
        ...

    def split(self, text: str, first: bool) -> list[str]:
        """``text`` in consecutive parts that each fit a part's call (``first``: the document itself)."""
        ...

    def count(self, text: str) -> int:
        """The size of ``text`` in the unit the model's limit is in."""
        ...


class DocumentSummary(BaseModel):
    """A map-reduce summary, with what it was made from."""

    summary: str
    """The summary of the whole text."""
    chunk_summaries: list[str]
    """The summary of each part of the text, in order (one item when the text fit in one call)."""
    chunks: int
    """How many parts the text was split into."""


def cap_words(text: str, max_words: int | None) -> str:
    """Return ``text`` cut to its first ``max_words`` words (unchanged when shorter or no cap)."""
    words = text.split()
    if max_words is None or len(words) <= max_words:
        return text.strip()
    return " ".join(words[:max_words])


class SplitPlan(NamedTuple):
    """What the ``"plan"`` stage answers: the text's size, and its parts unless it fits one final call."""

    size: int
    """The size of the text (:meth:`Fitter.count`), so that each round can be checked to shrink it."""
    parts: list[str]
    """Consecutive parts that each fit a part's call; empty when the whole text fits the final call."""


def plan_split(fitter: Fitter, ask: dict[str, Any]) -> SplitPlan:
    """Answer a ``"plan"`` ask (``{"text", "words", "first"}``) with ``fitter``."""
    text = ask["text"]
    parts = [] if fitter.fits(text, True, ask["words"]) else fitter.split(text, first=ask["first"])
    return SplitPlan(fitter.count(text), parts)


def map_reduce(text: str, *, max_words: int | None = None, chunk_words: int | None = None) -> Steps[DocumentSummary]:
    """The steps that summarize ``text``.

    Three stages answer them. ``"plan"`` measures and splits the text with the model's
    :class:`Fitter` (:func:`plan_split`): it is a stage so that a tokenizer's work runs where
    the driver runs model calls (off an event loop) and shows in traces. ``"map"`` summarizes
    the text or a part of it and ``"reduce"`` summaries joined by blank lines; both are asked
    ``{"text", "words", "final"}``, ``words`` being the longest answer wanted and ``final``
    whether the call makes the summary itself.

    Args:
        text: The text to summarize.
        max_words: Longest final summary in words; the answer is cut there.
        chunk_words: Longest summary of one part in words; None: the model's own length.

    Raises:
        ModelOutputError: A round did not make the text shorter, or :data:`MAX_ROUNDS`
            rounds did not make it fit one call.
    """
    current = text
    first: tuple[int, list[str]] | None = None  # how many parts the text had, and their summaries
    previous: SplitPlan | None = None
    for round_number in range(MAX_ROUNDS):
        stage = "map" if round_number == 0 else "reduce"
        plan = yield Ask.one("plan", {"text": current, "words": max_words, "first": round_number == 0})
        if previous is not None and len(previous.parts) > 1 and plan.size >= previous.size:
            raise ModelOutputError(
                "the summary model's summaries are not shorter than their input, so the text cannot be reduced; "
                f"{'ask for shorter chunk summaries (chunk_words) or ' if chunk_words else ''}use a stronger summary model"
            )
        if not plan.parts:
            answer = yield Ask.one(stage, {"text": current, "words": max_words, "final": True})
            summary = cap_words(str(answer), max_words)
            chunks, chunk_summaries = first or (1, [summary])
            return DocumentSummary(summary=summary, chunk_summaries=chunk_summaries, chunks=chunks)
        logger.info("summarize round %d: %d chunks", round_number + 1, len(plan.parts))
        answers = yield Ask.each(stage, [{"text": part, "words": chunk_words, "final": False} for part in plan.parts])
        summaries = [cap_words(str(answer), chunk_words) for answer in answers]
        first = first or (len(plan.parts), summaries)
        joined = "\n\n".join(summary for summary in summaries if summary)
        if not joined:
            return DocumentSummary(summary="", chunk_summaries=first[1], chunks=first[0])
        previous, current = plan, joined
    raise ModelOutputError(
        f"the text did not fit the summary model after {MAX_ROUNDS} rounds of summarizing; "
        "give a shorter text or a summary model with a longer context"
    )
