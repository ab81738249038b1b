"""Summarization: the ``summarize`` tool and :func:`summarize_text` behind it.

The summary model is either a seq2seq model (t5-small: the input gets the model's own
``summarize: `` prefix and its summarization generation settings) or a causal instruct
model (prompted through its chat template). Text longer than the model reads at once is
summarized map-reduce (:mod:`genlab.tools.map_reduce`): split into chunks that fit
(counted in the model's own tokens), each chunk summarized, the summaries joined and
summarized again until one call takes them all. Nothing is truncated: every chunk is
checked to fit before it is sent.
"""

from __future__ import annotations

from typing import Any

from langchain_core.output_parsers import StrOutputParser
from langchain_text_splitters import RecursiveCharacterTextSplitter
from pydantic import BaseModel, Field, field_validator

from genlab.errors import ModelUnavailableError
from genlab.models import LocalLLM, get_model, parse_model, resolve_model
from genlab.steps import run_steps
from genlab.tools.base import NOT_BLANK, GenlabTool, check_text_size, require_text, validate_input
from genlab.tools.map_reduce import map_reduce, plan_split

#: The longest prompt sent to a causal summary model at once, in tokens, even when its
#: context is longer: attention cost grows with the square of the length, and small
#: instruct models summarize long inputs poorly.
MAX_INSTRUCT_CONTEXT = 8192
#: Room for the answer of a causal summary model when ``max_words`` is not given.
DEFAULT_SUMMARY_TOKENS = 256
#: Context assumed for a summary model on a server, which does not report its own.
SERVER_CONTEXT = 4096
#: The most words a summary may be asked for (``max_words``, ``chunk_words``): prompts are
#: measured with this wording, the longest, so a chunk that fits, fits with any length.
LONGEST_WORDS = 1000
#: Characters per token when no tokenizer is at hand (English averages about four).
CHARS_PER_TOKEN = 4


class SummarizeInput(BaseModel):
    """Arguments of ``summarize``."""

    text: str = Field(
        min_length=1,
        description="The full text to summarize (an article, notes, a transcript); long texts are fine.",
        pattern=NOT_BLANK,
    )
    max_words: int | None = Field(
        default=None, ge=5, le=1000, description="Longest summary in words, from 5 to 1000; omit for the model's default."
    )

    @field_validator("text")
    @classmethod
    def _text_ok(cls, value: str) -> str:
        return check_text_size(require_text(value, "text"))


def tokens_for_words(words: int) -> int:
    """Tokens to allow for ``words`` words of English (about 1.3 each; the rest is margin)."""
    return 2 * words + 8


class Summarizer:
    """How one kind of summary model counts, fits and summarizes text (a map-reduce ``Fitter``)."""

    def __init__(self, pipe: Any) -> None:
        self.pipe = pipe
        self.tokenizer = pipe.tokenizer

    def count(self, text: str) -> int:
        """Tokens of ``text`` alone (the splitter's length function)."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    @property
    def budget(self) -> int:
        """Tokens of text one call can take."""
        raise NotImplementedError

    def fits(self, text: str, final: bool, max_words: int | None = None) -> bool:
        """Whether ``text`` goes through one call (a chunk's, or the ``final`` one) untruncated."""
        raise NotImplementedError

    def split(self, text: str, first: bool) -> list[str]:
        """``text`` in chunks that each go through one chunk call untruncated."""
        return split_to_fit(self, text)

    def run(self, text: str, final: bool, max_words: int | None) -> str:
        """Summarize ``text`` in one call (a chunk's, or the ``final`` one)."""
        raise NotImplementedError

    def answer(self, stage: str, ask: dict[str, Any]) -> Any:
        """Answer an ask of :func:`genlab.tools.map_reduce.map_reduce`: ``"plan"``, ``"map"`` or ``"reduce"``."""
        if stage == "plan":
            return plan_split(self, ask)
        return self.run(ask["text"], ask["final"], ask["words"])


class _Seq2SeqSummarizer(Summarizer):
    """t5-small and friends, through :class:`genlab.models.seq2seq.Seq2SeqPipeline`."""

    def __init__(self, pipe: Any) -> None:
        super().__init__(pipe)
        params = dict((getattr(pipe.model.config, "task_specific_params", None) or {}).get("summarization") or {})
        self.prefix = params.pop("prefix", "") or ""
        self.generation = params  # what the course's pipeline("summarization") applied
        self.limit = int(pipe.max_input_tokens)
        overhead = len(self.tokenizer(self.prefix)["input_ids"])
        if self.limit - overhead < 16:
            raise _too_small(pipe, self.limit)
        self._budget = self.limit - overhead

    @property
    def budget(self) -> int:
        return self._budget

    def fits(self, text: str, final: bool, max_words: int | None = None) -> bool:
        # Exactly what the pipeline's preprocessing will encode.
        return len(self.tokenizer(self.prefix + text)["input_ids"]) <= self.limit

    def run(self, text: str, final: bool, max_words: int | None) -> str:
        kwargs = dict(self.generation)
        config = self.pipe.model.generation_config
        own_length = {"max_length", "max_new_tokens"} & set(kwargs)
        unset = not own_length and config.max_length is None and config.max_new_tokens is None
        if final and max_words is None and unset:
            # Without a length of its own, generate() would stop at 20 tokens.
            kwargs["max_new_tokens"] = DEFAULT_SUMMARY_TOKENS // 2
        if not final or max_words is not None:
            # A chunk's summary gets at most a quarter of a chunk's room, so each round shrinks the text.
            new_tokens = tokens_for_words(max_words) if max_words else self.budget // 4
            new_tokens = max(8, new_tokens if final else min(new_tokens, self.budget // 4))
            kwargs.pop("max_length", None)
            kwargs["max_new_tokens"] = new_tokens
            if "min_length" in kwargs:
                kwargs["min_length"] = min(int(kwargs["min_length"]), new_tokens // 2)
        # truncation=False: fits() has checked the length; the pipeline must not cut anything.
        out = self.pipe(self.prefix + text, truncation=False, **kwargs)
        return out[0]["generated_text"].strip()


class _InstructSummarizer(Summarizer):
    """A causal (instruct) model, prompted through its chat template by the local LLM."""

    def __init__(self, pipe: Any) -> None:

        super().__init__(pipe)
        self.llm = LocalLLM(pipeline=pipe, role="summary")
        self.context = _context_tokens(pipe)
        overhead = self.count(self.prompt("", final=False, max_words=LONGEST_WORDS))
        room = self.context - overhead - self.map_tokens
        if room < 16:
            raise _too_small(pipe, self.context)
        self._budget = room

    @property
    def map_tokens(self) -> int:
        """Answer length for a chunk's summary: about a fifth of the context, so each round shrinks the text."""
        return max(16, min(DEFAULT_SUMMARY_TOKENS, (self.context - 64) // 5))

    @property
    def budget(self) -> int:
        return self._budget

    def prompt(self, text: str, final: bool, max_words: int | None) -> str:
        ask = _instruction(final, max_words)
        if getattr(self.tokenizer, "chat_template", None):
            messages = [{"role": "user", "content": f"{ask}\n\n{text}"}]
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return f"{ask}\n\nText:\n{text}\n\nSummary:"

    def answer_tokens(self, final: bool, max_words: int | None) -> int:
        if not final:
            return min(self.map_tokens, tokens_for_words(max_words)) if max_words else self.map_tokens
        wanted = tokens_for_words(max_words) if max_words else DEFAULT_SUMMARY_TOKENS
        return min(wanted, self.context // 2)  # the answer is cut to max_words anyway

    def fits(self, text: str, final: bool, max_words: int | None = None) -> bool:
        # A chunk is checked with the longest wording a chunk's prompt can have, so it fits
        # whatever chunk_words the caller asks for.
        words = max_words if final else LONGEST_WORDS
        return self.count(self.prompt(text, final=final, max_words=words)) + self.answer_tokens(final, words) <= self.context

    def run(self, text: str, final: bool, max_words: int | None) -> str:
        # Through the local LLM, like every causal generation in genlab: its stops, seeding,
        # locking and context check. A prompt rendered by the chat template already holds the
        # special tokens; adding them again would start it with a second BOS.
        templated = bool(getattr(self.tokenizer, "chat_template", None))
        [result] = self.llm.complete(
            [self.prompt(text, final=final, max_words=max_words)],
            add_special_tokens=not templated,
            max_new_tokens=self.answer_tokens(final, max_words),
            temperature=0,
        )
        if isinstance(result, Exception):  # complete() returns each prompt's own failure
            raise result
        return result.text.strip()


class _ServerSummarizer(_InstructSummarizer):
    """An instruct model on a model server (``openai:NAME``, ``ollama:NAME``), as a chat model.

    The client has no tokenizer and servers do not say their context length, so text is
    counted at :data:`CHARS_PER_TOKEN` characters a token against :data:`SERVER_CONTEXT`
    tokens: chunks stay well inside what the small models such servers run accept.
    """

    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self.tokenizer = None
        self.context = SERVER_CONTEXT
        self._budget = self.context - self.count(self.prompt("", final=False, max_words=LONGEST_WORDS)) - self.map_tokens

    def count(self, text: str) -> int:
        return -(-len(text) // CHARS_PER_TOKEN)

    def prompt(self, text: str, final: bool, max_words: int | None) -> str:
        return f"{_instruction(final, max_words)}\n\n{text}"

    def run(self, text: str, final: bool, max_words: int | None) -> str:

        chat = resolve_model("summary", self.spec.display, max_new_tokens=self.answer_tokens(final, max_words), temperature=0)
        return (chat | StrOutputParser()).invoke(self.prompt(text, final=final, max_words=max_words)).strip()


def _instruction(final: bool, max_words: int | None) -> str:
    """What an instruct summary model is asked to do (a chunk's call, or the final one)."""
    length = f"in at most {max_words} words" if max_words else "concisely"
    if final:
        return f"Summarize the following text {length}."
    return f"Summarize this part of a longer text {length}, keeping its key facts."


def _too_small(pipe: Any, limit: int) -> Exception:
    source = str(getattr(pipe.model, "name_or_path", "") or "the configured model")
    return ModelUnavailableError(
        "summary",
        source,
        f"it reads only {limit} tokens at once, too few to summarize with",
        want="a seq2seq model such as google-t5/t5-small or an instruct model",
    )


def _context_tokens(pipe: Any) -> int:
    """The context length of a causal model, from its config (tokenizers often report a sentinel)."""
    config = pipe.model.config
    candidates = [
        getattr(config, name, None) for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length")
    ]
    limit = getattr(pipe.tokenizer, "model_max_length", None)
    if limit and limit < 10**6:
        candidates.append(limit)
    known = [int(c) for c in candidates if isinstance(c, int) and c > 0]
    return min([*known, MAX_INSTRUCT_CONTEXT]) if known else 2048


def summarizer_for(model: str | None) -> Summarizer:
    """The summarizer for the summary role's model (``model`` overrides the setting).

    A seq2seq model keeps its own pipeline: the course's summarization settings (beam
    search, length penalty, n-gram blocking) are not text-generation settings.
    """

    spec = parse_model("summary", model)
    if spec.remote:
        return _ServerSummarizer(spec)
    pipe = get_model("summary", model)
    if getattr(pipe.model.config, "is_encoder_decoder", False):
        return _Seq2SeqSummarizer(pipe)
    return _InstructSummarizer(pipe)


def _model_name(summarizer: Summarizer) -> str:
    spec = getattr(summarizer, "spec", None)
    if spec is not None:
        return spec.display
    return str(getattr(summarizer.pipe.model, "name_or_path", "") or "the configured model")


def split_to_fit(summarizer: Summarizer, text: str) -> list[str]:
    """Split ``text`` into chunks that each go through one (chunk) model call untruncated.

    Splits at paragraphs, then lines, sentences, words (LangChain's recursive splitter,
    counting the model's tokens), and splits again any chunk that still does not fit
    once the prompt is around it.
    """
    if summarizer.fits(text, False):
        return [text]

    chunks: list[str] = []
    pending = [(text, summarizer.budget)]
    while pending:
        piece, size = pending.pop(0)
        splitter = RecursiveCharacterTextSplitter(
            chunk_size=size,
            chunk_overlap=0,
            length_function=summarizer.count,
            separators=["\n\n", "\n", ". ", " ", ""],
            keep_separator="end",
        )
        for chunk in splitter.split_text(piece):
            if not chunk.strip():
                continue
            if summarizer.fits(chunk, False):
                chunks.append(chunk)
            elif size > 1:
                # Token counts of pieces do not add up exactly; retry this chunk smaller.
                pending.insert(0, (chunk, max(1, size * 3 // 4)))
            else:
                raise ModelUnavailableError(
                    "summary",
                    _model_name(summarizer),
                    "it cannot read even one word of the text at once",
                    fixes="set GENLAB_SUMMARY_MODEL to a model with a longer context",
                )
    return chunks


def plan_chunks(text: str, *, model: str | None = None) -> list[str]:
    """Return the chunks the first map step of :func:`summarize_text` would summarize.

    A text that fits in one call gives a single chunk (the text itself).
    """
    request = validate_input(SummarizeInput, {"text": text})
    summarizer = summarizer_for(model)
    if summarizer.fits(request.text, True):
        return [request.text]
    return split_to_fit(summarizer, request.text)


def summarize_text(text: str, max_words: int | None = None, *, model: str | None = None) -> str:
    """Summarize ``text``; long text is summarized map-reduce, never truncated.

    Args:
        text: The text, up to ``Settings.max_input_chars`` characters.
        max_words: Longest summary in words (5 to 1000); the answer is cut at that word.
        model: Hub id or folder overriding the configured summary model.

    Returns:
        The summary.

    Raises:
        ToolInputError: ``text`` is empty or too long, or ``max_words`` is out of range.
        ModelUnavailableError: The summary model cannot be loaded.
    """
    request = validate_input(SummarizeInput, {"text": text, "max_words": max_words})
    summarizer = summarizer_for(model)
    return run_steps(map_reduce(request.text, max_words=request.max_words), summarizer.answer).summary


class SummarizeTool(GenlabTool):
    """The ``summarize`` tool; ``model`` overrides GENLAB_SUMMARY_MODEL."""

    name: str = "summarize"
    description: str = (
        "Summarize a text (an article, notes, a transcript, a document the user pasted) into a short "
        "paragraph. Use it when the user asks for a summary, the gist or a shorter version of a text. "
        "Pass the whole text in `text`; long texts are summarized in parts, nothing is cut off. "
        "Optional `max_words` caps the summary's length. Returns the summary."
    )
    args_schema: type[BaseModel] = SummarizeInput
    model: str | None = None
    """Hub id or folder of the summary model; None uses GENLAB_SUMMARY_MODEL."""

    def _execute(self, **kwargs: Any) -> str:
        return summarize_text(**kwargs, model=self.model)


summarize = SummarizeTool()
"""The ``summarize`` LangChain tool (configured summary model)."""
