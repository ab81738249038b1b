"""Map-reduce summary of a long text or a text file, with each chunk's summary kept.

Two ways to summarize, one interface:

- ``llm=None`` (the default) reuses the ``summarize`` tool's model (``GENLAB_SUMMARY_MODEL``,
  t5-small by default) and its splitter, which counts the model's own tokens, so no chunk
  is ever truncated (:func:`genlab.tools.plan_chunks`, :func:`genlab.tools.summarize_text`).
- any LangChain LLM or chat model: chunks of ``chunk_chars`` characters (LangChain's
  recursive splitter), a prompt per chunk, summaries grouped and summarized again until
  they fit in one prompt, then one final prompt.

Both follow the ``summarize`` tool's rules (:mod:`genlab.tools.map_reduce`): every round
must shrink the text, and a batch of documents shares each round's model calls.

The result keeps the chunk summaries (the "map" step's output), so a reader can see what
the final summary was made from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache, partial
from pathlib import Path
from typing import Any, ClassVar

from langchain_core.runnables import Runnable, RunnableLambda
from langchain_text_splitters import RecursiveCharacterTextSplitter
from pydantic import BaseModel, Field, ValidationError

from genlab.chains.base import LLMLike, Stage, StagedChain, resolve_llm, text_chain
from genlab.chains.prompts import MAP_SUMMARY_PROMPT, REDUCE_SUMMARY_PROMPT
from genlab.errors import InvalidInputError, describe_validation_error
from genlab.steps import Steps
from genlab.tools.base import check_text_size
from genlab.tools.map_reduce import DocumentSummary, map_reduce, plan_split
from genlab.tools.summarization import Summarizer, summarizer_for

__all__ = ["DocumentSummary", "SummarizeDocument", "read_document", "summarize_document"]


def read_document(value: Any) -> str:
    """Return the text of a chain input: a string, a Path, ``{"text": ...}`` or ``{"path": ...}``.

    Raises:
        InvalidInputError: Empty text, a missing or unreadable file, or more than
            ``GENLAB_MAX_INPUT_CHARS`` characters.
    """
    if isinstance(value, Mapping):
        if "text" in value:
            value = value["text"]
        elif "path" in value:
            value = Path(value["path"])
        else:
            raise InvalidInputError("summarize_document takes a text, a Path, or a mapping with 'text' or 'path'")
    if isinstance(value, Path):
        text = _read_file(value)
    elif isinstance(value, str):
        text = value
    else:
        raise InvalidInputError(f"summarize_document takes a text or a Path, got {type(value).__name__}")
    if not text.strip():
        raise InvalidInputError("the document is empty; there is nothing to summarize")
    return check_text_size(text, what="the document")


def _read_file(path: Path) -> str:
    path = path.expanduser()
    if not path.is_file():
        raise InvalidInputError(f"{str(path)!r} is not a file; pass the path of a text file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInputError(f"{str(path)!r} is not UTF-8 text; pass a plain-text or Markdown file") from None
    except OSError as exc:
        raise InvalidInputError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None


class SummarizeDocument(StagedChain):
    """The map-reduce document summary chain; build it with :func:`summarize_document`."""

    name: str | None = "summarize_document"
    output_model: ClassVar[type[BaseModel]] = DocumentSummary

    llm: Any = None
    """The LLM or chat model; None for the summarize tool's model."""
    max_words: int | None = Field(default=None, ge=5, le=1000)
    """Longest final summary in words."""
    chunk_words: int = Field(default=80, ge=5, le=1000)
    """Longest summary of one chunk in words: each round must shrink the text."""
    chunk_chars: int = Field(default=3000, ge=200, le=100_000)
    """Chunk size in characters (LLM path; the summary model's path counts its own tokens)."""
    chunk_overlap: int = Field(default=200, ge=0)
    """Characters shared by neighbouring chunks of the document (LLM path)."""

    def model_post_init(self, context: Any) -> None:
        super().model_post_init(context)
        if self.chunk_overlap >= self.chunk_chars:
            raise ValueError("chunk_overlap must be smaller than chunk_chars")

    def stages(self) -> dict[str, Stage]:
        if self.llm is None:
            # The summary model answers every stage, one call at a time (one local pipeline). It
            # is resolved on the batch's first call, once: not when the chain is built.
            summarizer = cache(partial(summarizer_for, None))
            return {
                name: Stage(RunnableLambda(partial(_ask, summarizer, name)).with_config(run_name=run), sequential=True)
                for name, run in (("plan", "split_text"), ("map", "summarize_chunk"), ("reduce", "combine_summaries"))
            }
        fitter = _CharacterFitter(self.chunk_chars, self.chunk_overlap)
        return {
            "plan": Stage(RunnableLambda(partial(plan_split, fitter)).with_config(run_name="split_text")),
            "map": Stage(_prompted(MAP_SUMMARY_PROMPT, self.llm).with_config(run_name="summarize_chunk")),
            "reduce": Stage(_prompted(REDUCE_SUMMARY_PROMPT, self.llm).with_config(run_name="combine_summaries")),
        }

    def prepare(self, value: Any) -> str:
        return read_document(value)

    def steps(self, item: str) -> Steps[DocumentSummary]:
        return (yield from map_reduce(item, max_words=self.max_words, chunk_words=self.chunk_words))


class _CharacterFitter:
    """What fits one prompt of an LLM given to the chain: ``chunk_chars`` characters.

    An LLM's tokenizer and context are not known here (a chat model on a server reports
    neither), so the chain counts characters, as LangChain's own splitters do.
    """

    def __init__(self, chunk_chars: int, chunk_overlap: int) -> None:
        self.chunk_chars = chunk_chars
        self.chunk_overlap = chunk_overlap

    def fits(self, text: str, final: bool, max_words: int | None = None) -> bool:
        return len(text) <= self.chunk_chars

    def split(self, text: str, first: bool) -> list[str]:
        # Summaries are grouped whole (no overlap); only the document's chunks share context.
        overlap = self.chunk_overlap if first else 0
        splitter = RecursiveCharacterTextSplitter(chunk_size=self.chunk_chars, chunk_overlap=overlap)
        return [chunk for chunk in splitter.split_text(text) if chunk.strip()] or [text]

    def count(self, text: str) -> int:
        return len(text)


def _prompted(prompt: Any, llm: Runnable[Any, Any]) -> Runnable[dict[str, Any], str]:
    """A map-reduce ask (``{"text", "words", "final"}``) through ``prompt`` and ``llm``."""
    return RunnableLambda(_prompt_values) | text_chain(prompt, llm)


def _prompt_values(ask: dict[str, Any]) -> dict[str, str]:
    words = ask["words"]
    return {"text": ask["text"], "length": f" in at most {words} words" if words else ""}


def _ask(summarizer: Callable[[], Summarizer], stage: str, ask: dict[str, Any]) -> Any:
    return summarizer().answer(stage, ask)


def summarize_document(
    llm: LLMLike | None = None,
    *,
    max_words: int | None = None,
    chunk_words: int = 80,
    chunk_chars: int = 3000,
    chunk_overlap: int = 200,
) -> SummarizeDocument:
    """Build the map-reduce summary chain for long texts and text files.

    Input: a text (``str``), a file (``pathlib.Path``), or ``{"text": ...}`` / ``{"path": ...}``.
    Output: ``{"summary", "chunk_summaries": [...], "chunks": n}``.

    Args:
        llm: Any LangChain LLM or chat model. None reuses the ``summarize`` tool's model
            (``GENLAB_SUMMARY_MODEL``), split by its own token count; loaded on first use.
        max_words: Longest final summary in words (5 to 1000); None: the model's default.
        chunk_words: Longest summary of one chunk in words (5 to 1000).
        chunk_chars: Chunk size in characters when an ``llm`` is given (200 to 100,000).
        chunk_overlap: Characters shared by neighbouring chunks when an ``llm`` is given.

    Returns:
        An LCEL Runnable (``invoke``, ``batch``, ``ainvoke``; ``stream`` yields the result once).

    Raises:
        InvalidInputError: A setting is out of range.
    """
    try:
        return SummarizeDocument(
            # A summary of at most max(chunk_words, max_words) words, at about 2 tokens a word.
            llm=None if llm is None else resolve_llm(llm, what="llm", max_new_tokens=2 * max(chunk_words, max_words or 150) + 8),
            max_words=max_words,
            chunk_words=chunk_words,
            chunk_chars=chunk_chars,
            chunk_overlap=chunk_overlap,
        )
    except ValidationError as exc:
        raise InvalidInputError(describe_validation_error(exc, SummarizeDocument)) from None
