"""Classification: the ``classify_zero_shot`` and ``classify_few_shot`` tools.

Zero-shot uses an NLI model (each label becomes the hypothesis "This example is {label}.").
Few-shot prompts a causal LM the way the course's restaurant-review example does: labelled
examples separated by ``###``, generation stopped at the separator, and the answer mapped
onto the allowed labels (``unknown`` when it names none).

Neither truncates: a text longer than the model reads is refused with the limit, so a
label never silently describes only the beginning of a document.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from langchain_core.output_parsers import StrOutputParser
from pydantic import BaseModel, Field, field_validator, model_validator

from genlab.errors import PromptTooLongError
from genlab.models import get_model, resolve_model
from genlab.tools.base import NOT_BLANK, GenlabTool, ToolInputError, check_text_size, clean_labels, require_text, validate_input

logger = logging.getLogger(__name__)

MAX_LABELS = 50
MAX_EXAMPLES = 50
SEPARATOR = "###"
#: New tokens for a few-shot answer: the longest course label is 1-3 tokens, then the separator.
FEW_SHOT_ANSWER_TOKENS = 16
UNKNOWN = "unknown"
#: The hypothesis the zero-shot pipeline builds for each label (its default).
HYPOTHESIS = "This example is {}."

_LABELS_DESCRIPTION = f"The allowed labels: 1 to {MAX_LABELS} distinct, non-empty strings, e.g. ['positive', 'negative']."


class _TextAndLabels(BaseModel):
    """The checks both classifiers' arguments share: a text within the size limit, clean labels."""

    @field_validator("text", check_fields=False)
    @classmethod
    def _text_ok(cls, value: str) -> str:
        return check_text_size(require_text(value, "text"))

    @field_validator("labels", check_fields=False)
    @classmethod
    def _labels_ok(cls, value: list[str]) -> list[str]:
        return clean_labels(value)


class ZeroShotInput(_TextAndLabels):
    """Arguments of ``classify_zero_shot``."""

    text: str = Field(min_length=1, description="The text to classify.", pattern=NOT_BLANK)
    labels: list[str] = Field(
        min_length=1, max_length=MAX_LABELS, description=_LABELS_DESCRIPTION, json_schema_extra={"uniqueItems": True}
    )
    multi_label: bool = Field(
        default=False,
        description="True scores each label on its own (several may apply); False makes scores sum to 1.",
    )


class FewShotExample(BaseModel):
    """One labelled example shown to the model."""

    text: str = Field(min_length=1, pattern=NOT_BLANK, description="An example text.")
    label: str = Field(min_length=1, pattern=NOT_BLANK, description="Its label: one of the allowed labels.")

    @field_validator("text", "label")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        return require_text(value, "example text and label").strip()


class FewShotInput(_TextAndLabels):
    """Arguments of ``classify_few_shot``."""

    text: str = Field(min_length=1, description="The text to classify.", pattern=NOT_BLANK)
    labels: list[str] = Field(
        min_length=1, max_length=MAX_LABELS, description=_LABELS_DESCRIPTION, json_schema_extra={"uniqueItems": True}
    )
    examples: list[FewShotExample] | None = Field(
        default=None,
        max_length=MAX_EXAMPLES,
        description=f"Up to {MAX_EXAMPLES} labelled examples ({{'text', 'label'}}), each label one of `labels`.",
    )

    @model_validator(mode="after")
    def _examples_use_labels(self) -> FewShotInput:
        allowed = {label.casefold(): label for label in self.labels}
        for example in self.examples or []:
            if example.label.casefold() not in allowed:
                raise ValueError(f"examples: label {example.label!r} is not one of the labels {self.labels}")
            example.label = allowed[example.label.casefold()]
        return self


class ZeroShotResult(BaseModel):
    """Labels with their scores, best first."""

    labels: list[str]
    scores: list[float]


def _input_limit(pipe: Any) -> int:
    """The most tokens the NLI model reads: the smaller of the tokenizer's and the model's limits.

    A tokenizer saved without ``model_max_length`` reports about 1e30, and one may allow
    more than the model has positions for; either way the model's position table is what
    overflows (the tensor-size error), so it bounds the limit too.
    """
    limits = []
    tokenizer_limit = getattr(pipe.tokenizer, "model_max_length", None)
    if isinstance(tokenizer_limit, int) and 0 < tokenizer_limit < 10**6:
        limits.append(tokenizer_limit)
    config = pipe.model.config
    for name in ("max_position_embeddings", "n_positions"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            limits.append(value)
            break
    return min(limits) if limits else 512


def classify_zero_shot_text(
    text: str, labels: list[str], multi_label: bool = False, *, model: str | None = None
) -> ZeroShotResult:
    """Score ``labels`` for ``text`` with an NLI model; labels sorted by score, best first.

    Args:
        text: The text to classify.
        labels: 1 to 50 distinct labels.
        multi_label: Score each label independently instead of making the scores sum to 1.
        model: Hub id or folder overriding the configured zero-shot model.

    Raises:
        ToolInputError: Bad text or labels, or a text longer than the model reads.
        ModelUnavailableError: The zero-shot model cannot be loaded.
    """
    request = validate_input(ZeroShotInput, {"text": text, "labels": labels, "multi_label": multi_label})

    pipe = get_model("zero_shot", model)
    limit = _input_limit(pipe)
    # Each label makes one (text, hypothesis) pair; the longest pair must fit.
    needed = max(len(pipe.tokenizer(request.text, HYPOTHESIS.format(label))["input_ids"]) for label in request.labels)
    if needed > limit:
        raise ToolInputError(
            f"text is too long for the zero-shot model: {needed} tokens with a label, it reads at most {limit}; "
            "pass a shorter excerpt or summarize the text first"
        )
    out = pipe(request.text, candidate_labels=request.labels, multi_label=request.multi_label, hypothesis_template=HYPOTHESIS)
    ranked = sorted(zip(out["labels"], out["scores"], strict=True), key=lambda pair: pair[1], reverse=True)
    return ZeroShotResult(labels=[label for label, _ in ranked], scores=[float(score) for _, score in ranked])


def _neutralize(text: str) -> str:
    # A "###" inside a text would read as the end of an example to the model.
    return re.sub(r"#{3,}", "#", text.strip())


def few_shot_prompt(text: str, labels: list[str], examples: list[FewShotExample] | None = None) -> str:
    """Build the few-shot prompt: instruction, ``###``-separated examples, then the text.

    The last line is ``Label:``; the model's continuation up to the next ``###`` is the answer.
    """
    blocks = [f"Classify each text as one of: {', '.join(labels)}."]
    for example in examples or []:
        blocks.append(f"Text: {_neutralize(example.text)}\nLabel: {example.label}")
    blocks.append(f"Text: {_neutralize(text)}\nLabel:")
    return f"\n{SEPARATOR}\n".join(blocks)


_WORD = re.compile(r"[\w'-]+", re.UNICODE)


def match_label(answer: str, labels: list[str]) -> str:
    """Map a model's answer onto one of ``labels``, or ``"unknown"``.

    The answer is its text before any ``###``, first non-empty line. It matches a label when
    the line equals the label (case and surrounding punctuation ignored) or when its
    first words are the label's words ("Positive, because..." -> ``positive``); the
    longest such label wins.
    """
    head = answer.split(SEPARATOR, 1)[0]
    line = next((part.strip() for part in head.splitlines() if part.strip()), "")
    words = [w.casefold() for w in _WORD.findall(line)]
    if not words:
        return UNKNOWN
    best: str | None = None
    best_len = 0
    for label in labels:
        label_words = [w.casefold() for w in _WORD.findall(label)]
        if label_words and words[: len(label_words)] == label_words and len(label_words) > best_len:
            best, best_len = label, len(label_words)
    return best or UNKNOWN


def classify_few_shot_text(
    text: str,
    labels: list[str],
    examples: list[FewShotExample | dict[str, str]] | None = None,
    *,
    model: str | None = None,
) -> str:
    """Classify ``text`` by prompting a causal LM with labelled examples.

    Args:
        text: The text to classify.
        labels: 1 to 50 distinct allowed labels.
        examples: Up to 50 ``{"text", "label"}`` examples whose labels are among ``labels``.
        model: Hub id or folder overriding the configured few-shot model.

    Returns:
        One of ``labels``, or ``"unknown"`` when the model's answer names none of them.

    Raises:
        ToolInputError: Bad text, labels or examples, or a prompt longer than the model reads.
        ModelUnavailableError: The few-shot model cannot be loaded.
    """
    request = validate_input(FewShotInput, {"text": text, "labels": labels, "examples": examples})

    prompt = few_shot_prompt(request.text, request.labels, request.examples)
    # Greedy, short and stopped at the separator: a label, a period, perhaps a short "because".
    llm = resolve_model("few_shot", model, max_new_tokens=FEW_SHOT_ANSWER_TOKENS, temperature=0, stop=[SEPARATOR])
    try:
        answer = (llm | StrOutputParser()).invoke(prompt)
    except PromptTooLongError as exc:
        raise ToolInputError(
            f"text and examples are too long for the few-shot model: {exc.prompt_tokens} tokens, it reads at most "
            f"{exc.context - exc.new_tokens}; use fewer or shorter examples or a shorter text"
        ) from exc
    label = match_label(answer, request.labels)
    logger.debug("few-shot answer %r -> %s", answer, label)
    return label


class ClassifyZeroShotTool(GenlabTool):
    """The ``classify_zero_shot`` tool; ``model`` overrides GENLAB_ZERO_SHOT_MODEL."""

    name: str = "classify_zero_shot"
    description: str = (
        "Classify a text into candidate labels you choose, without examples (zero-shot, with an NLI "
        "model). Use it for sentiment, topic, intent or tone when you can list the possible labels. "
        "Set `multi_label` true when several labels may apply at once. Returns every label with a "
        "score from 0 to 1, best first."
    )
    args_schema: type[BaseModel] = ZeroShotInput
    model: str | None = None
    """Hub id or folder of the NLI model; None uses GENLAB_ZERO_SHOT_MODEL."""

    def _execute(self, **kwargs: Any) -> dict[str, Any]:
        return classify_zero_shot_text(**kwargs, model=self.model).model_dump()


class ClassifyFewShotTool(GenlabTool):
    """The ``classify_few_shot`` tool; ``model`` overrides GENLAB_FEW_SHOT_MODEL."""

    name: str = "classify_few_shot"
    description: str = (
        "Classify a text into exactly one of the given labels by showing a language model labelled "
        "examples (few-shot). Use it when the labels are specific to the user's task and you have "
        "example texts with their labels, e.g. restaurant reviews marked positive or negative. "
        "Returns the label, or 'unknown' if the model's answer matches none of them."
    )
    args_schema: type[BaseModel] = FewShotInput
    model: str | None = None
    """Hub id or folder of the causal LM; None uses GENLAB_FEW_SHOT_MODEL."""

    def _execute(self, **kwargs: Any) -> str:
        return classify_few_shot_text(**kwargs, model=self.model)


classify_zero_shot = ClassifyZeroShotTool()
"""The ``classify_zero_shot`` LangChain tool (configured NLI model)."""
classify_few_shot = ClassifyFewShotTool()
"""The ``classify_few_shot`` LangChain tool (configured causal LM)."""
