"""Map-reduce summary of a long text or a text file, with each chunk's summary kept.

Two ways to summarize, one interface:

- ``llm=None`` (the default) reuses the ``summarize`` tool's model (``GENLAB_SUMMARY_MODEL``,
  t5-small by default) and its splitter, which counts the model's own tokens, so no chunk
  is ever truncated (:func:`genlab.tools.plan_chunks`, :func:`genlab.tools.summarize_text`).
- any LangChain LLM or chat model: chunks of ``chunk_chars`` characters (LangChain's
  recursive splitter), a prompt per chunk, summaries grouped and summarized again until
  they fit in one prompt, then one final prompt.

The result keeps the chunk summaries (the "map" step's output), so a reader can see what
the final summary was made from.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import BaseModel, Field, PrivateAttr

from genlab.chains.base import LLMLike, Plan, StageCall, StagedChain, resolve_llm, text_chain
from genlab.chains.prompts import MAP_SUMMARY_PROMPT, REDUCE_SUMMARY_PROMPT
from genlab.errors import InvalidInputError, describe_validation_error
from genlab.tools.summarization import cap_words

#: Rounds of grouping summaries (LLM path) before the final prompt is sent regardless.
MAX_COLLAPSE_ROUNDS = 5


class DocumentSummary(BaseModel):
    """What :func:`summarize_document` returns (as a plain dict)."""

    summary: str
    """The summary of the whole document."""
    chunk_summaries: list[str]
    """The summary of each chunk, in document order (one item when the text fit in one call)."""
    chunks: int
    """How many chunks the document was split into."""


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
    from genlab.settings import get_settings

    limit = get_settings().max_input_chars
    if len(text) > limit:
        raise InvalidInputError(f"the document has {len(text):,} characters; the limit is {limit:,} (GENLAB_MAX_INPUT_CHARS)")
    return text


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


class _Doc:
    def __init__(self, text: str) -> None:
        self.text = text
        self.chunks: list[str] = []
        self.chunk_summaries: list[str] = []
        self.summary = ""
        self.error: BaseException | None = None


class SummarizeDocument(StagedChain):
    """The map-reduce document summary chain; build it with :func:`summarize_document`."""

    name: str | None = "summarize_document"
    llm: Any = None
    """The LLM or chat model; None for the summarize tool's model."""
    max_words: int | None = Field(default=None, ge=5, le=1000)
    """Longest final summary in words."""
    chunk_words: int = Field(default=80, ge=5, le=1000)
    """Longest summary of one chunk in words: each round must shrink the text."""
    chunk_chars: int = Field(default=3000, ge=200, le=100_000)
    """Chunk size in characters (LLM path; the summary model's path counts its own tokens)."""
    chunk_overlap: int = Field(default=200, ge=0)
    """Characters shared by neighbouring chunks (LLM path)."""

    _stages: dict[str, Runnable[Any, Any]] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any) -> None:
        super().model_post_init(context)
        if self.chunk_overlap >= self.chunk_chars:
            raise ValueError("chunk_overlap must be smaller than chunk_chars")
        if self.llm is None:
            self._stages = {
                "split": RunnableLambda(_plan_chunks, name="plan_chunks"),
                "map": RunnableLambda(_summarize_chunk, name="summarize_chunk"),
                "reduce": RunnableLambda(self._summarize_all, name="summarize"),
            }
        else:
            length = f" in at most {self.max_words} words" if self.max_words else ""
            self._stages = {
                "split": RunnableLambda(self._split, name="split_text"),
                "map": (RunnableLambda(_map_prompt_values) | text_chain(MAP_SUMMARY_PROMPT, self.llm)).with_config(
                    run_name="summarize_chunk"
                ),
                "reduce": text_chain(REDUCE_SUMMARY_PROMPT.partial(length=length), self.llm).with_config(
                    run_name="combine_summaries"
                ),
            }

    def prepare(self, value: Any) -> str:
        return read_document(value)

    def stage(self, name: str) -> Runnable[Any, Any]:
        return self._stages[name]

    def plan(self, items: list[str]) -> Plan:
        docs = [_Doc(text) for text in items]
        local = self.llm is None  # the local summary model runs one call at a time
        outputs = yield StageCall("split", [d.text for d in docs], list(range(len(docs))), sequential=True)
        for doc, output in zip(docs, outputs, strict=True):
            if isinstance(output, BaseException):
                doc.error = output
            else:
                doc.chunks = list(output)
        # A text that is one chunk is summarized once, as the final summary.
        owners = [i for i, d in enumerate(docs) if d.error is None for _ in d.chunks]
        requests: list[dict[str, Any]] = [
            {"text": chunk, "words": self.max_words if len(d.chunks) == 1 else self.chunk_words}
            for d in docs
            if d.error is None
            for chunk in d.chunks
        ]
        outputs = yield StageCall("map", requests, owners, sequential=local)
        for owner, request, output in zip(owners, requests, outputs, strict=True):
            doc = docs[owner]
            if isinstance(output, BaseException):
                doc.error = doc.error or output
            elif doc.error is None:
                doc.chunk_summaries.append(cap_words(str(output).strip(), request["words"]))
        ok = [i for i, d in enumerate(docs) if d.error is None]
        for i in ok:
            if len(docs[i].chunks) == 1:
                docs[i].summary = docs[i].chunk_summaries[0]
        several = [i for i in ok if len(docs[i].chunks) > 1]
        groups = {i: [s for s in docs[i].chunk_summaries if s] for i in several}
        if self.llm is not None:
            # Summaries that do not fit one prompt are grouped and summarized again.
            for _ in range(MAX_COLLAPSE_ROUNDS):
                long = [i for i in several if docs[i].error is None and len("\n\n".join(groups[i])) > self.chunk_chars]
                if not long:
                    break
                batches = {i: _group(groups[i], self.chunk_chars) for i in long}
                owners = [i for i in long for _ in batches[i]]
                outputs = yield StageCall("reduce", ["\n\n".join(g) for i in long for g in batches[i]], owners)
                collapsed: dict[int, list[str]] = {i: [] for i in long}
                for owner, output in zip(owners, outputs, strict=True):
                    if isinstance(output, BaseException):
                        docs[owner].error = docs[owner].error or output
                    else:
                        collapsed[owner].append(str(output).strip())
                groups.update(collapsed)
        final = [i for i in several if docs[i].error is None and groups[i]]
        outputs = yield StageCall("reduce", ["\n\n".join(groups[i]) for i in final], final, sequential=local)
        for i, output in zip(final, outputs, strict=True):
            if isinstance(output, BaseException):
                docs[i].error = output
            else:
                docs[i].summary = cap_words(str(output).strip(), self.max_words)
        return [
            d.error or DocumentSummary(summary=d.summary, chunk_summaries=d.chunk_summaries, chunks=len(d.chunks)).model_dump()
            for d in docs
        ]

    def _split(self, text: str) -> list[str]:
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(chunk_size=self.chunk_chars, chunk_overlap=self.chunk_overlap)
        return [c for c in splitter.split_text(text) if c.strip()] or [text]

    def _summarize_all(self, text: str) -> str:
        from genlab.tools import summarize_text

        # summarize_text reduces in more rounds by itself when the summaries do not fit one call.
        return summarize_text(text, self.max_words)


def _summarize_chunk(request: dict[str, Any]) -> str:
    from genlab.tools import summarize_text

    return summarize_text(request["text"], request["words"])


def _map_prompt_values(request: dict[str, Any]) -> dict[str, str]:
    words = request["words"]
    return {"text": request["text"], "length": f" in at most {words} words" if words else ""}


def _plan_chunks(text: str) -> list[str]:
    from genlab.tools import plan_chunks

    return plan_chunks(text)


def _group(summaries: list[str], limit: int) -> list[list[str]]:
    """Consecutive summaries in groups of at most ``limit`` characters (a longer one alone)."""
    groups: list[list[str]] = [[]]
    size = 0
    for summary in summaries:
        if groups[-1] and size + len(summary) + 2 > limit:
            groups.append([])
            size = 0
        groups[-1].append(summary)
        size += len(summary) + 2
    return groups


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
    from pydantic import ValidationError

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
