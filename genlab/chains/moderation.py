"""Moderators of a story: the zero-shot classifier's second opinion, and combining verdicts.

The moderator LLM's answer is read by :func:`genlab.chains.verdict.parse_verdict`. A
:class:`ZeroShotModerator` adds an NLI classifier's opinion over two labels ("suitable for
children" / "unsuitable for children"). A story is approved only when every enabled
moderator approves that exact text (:func:`combine`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Union

from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from genlab.chains.verdict import ModeratorVerdict
from genlab.errors import InvalidInputError
from genlab.tools import classify_zero_shot_text

ClassifierLike = Union[bool, "ZeroShotModerator", Runnable, Callable[..., Any], None]
"""What ``story_then_moderate(classifier=...)`` accepts; see :func:`as_moderator`."""


class ZeroShotModerator(BaseModel):
    """A zero-shot NLI classifier asked whether a story is suitable for children.

    The story is approved when the safe label's score is at least :attr:`threshold` and
    higher than the unsafe label's. An output without the safe label's score (an error
    message from a tool, say) is unreadable, and unreadable means not approved.

    Example:
        >>> ZeroShotModerator(classifier=True)                    # the configured NLI model
        >>> ZeroShotModerator(classifier=pipeline("zero-shot-classification", model=...))
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    classifier: Any = True
    """``True`` for :func:`genlab.tools.classify_zero_shot_text` (the configured model, loaded on
    first use); a Runnable or tool taking ``{"text", "labels", "multi_label"}`` (such as
    ``genlab.tools.classify_zero_shot``); or a callable ``f(text, labels)`` (such as a
    transformers zero-shot pipeline). Each must give ``{"labels": [...], "scores": [...]}``."""
    safe_label: str = "suitable for children"
    """The label that approves."""
    unsafe_label: str = "unsuitable for children"
    """The label that rejects."""
    threshold: float = Field(default=0.6, gt=0.0, lt=1.0)
    """Lowest score of the safe label that approves. Above 0.5, so that a classifier torn
    between the two labels (a score near 0.5) does not approve."""

    @model_validator(mode="after")
    def _check(self) -> ZeroShotModerator:
        if self.classifier is False or self.classifier is None:
            raise ValueError("classifier must be True, a Runnable/tool or a callable")
        if not isinstance(self.classifier, (bool, Runnable)) and not callable(self.classifier):
            raise ValueError(f"classifier must be True, a Runnable/tool or a callable, got {type(self.classifier).__name__}")
        if not self.safe_label.strip() or not self.unsafe_label.strip() or self.safe_label == self.unsafe_label:
            raise ValueError("safe_label and unsafe_label must be two different non-empty labels")
        return self

    @property
    def labels(self) -> list[str]:
        return [self.safe_label, self.unsafe_label]

    def as_runnable(self) -> Runnable[str, Any]:
        """A Runnable from a story to the classifier's raw output."""
        labels = self.labels
        if self.classifier is True:

            def classify(text: str) -> Any:

                return classify_zero_shot_text(text, labels, multi_label=False).model_dump()

            return RunnableLambda(classify, name="classify_zero_shot")
        if isinstance(self.classifier, Runnable):
            request: RunnableLambda[str, dict[str, Any]] = RunnableLambda(
                lambda text: {"text": text, "labels": labels, "multi_label": False}, name="labels"
            )
            return request | self.classifier
        function = self.classifier
        return RunnableLambda(lambda text: function(text, labels), name="classifier")

    def judge(self, output: Any) -> ModeratorVerdict:
        """Turn the classifier's output into a verdict (unreadable output is a rejection)."""
        scores = _scores(output)
        if scores is None or self.safe_label not in scores:
            shown = " ".join(str(output).split())[:120]
            return ModeratorVerdict(
                kid_friendly=False,
                readable=False,
                source="classifier",
                reason=f"unreadable classifier output (no score for {self.safe_label!r}), so the story is not approved; it gave {shown!r}",
                raw=str(output),
            )
        safe = scores[self.safe_label]
        unsafe = scores.get(self.unsafe_label, 0.0)
        approve = safe >= self.threshold and safe > unsafe
        shown = ", ".join(f"{label!r} {score:.2f}" for label, score in sorted(scores.items(), key=lambda p: -p[1]))
        return ModeratorVerdict(kid_friendly=approve, source="classifier", reason=shown, raw=json.dumps(scores))


def _scores(output: Any) -> dict[str, float] | None:
    if isinstance(output, BaseModel):
        output = output.model_dump()
    if isinstance(output, str):
        try:
            output = json.loads(output)
        except json.JSONDecodeError:
            return None
    if not isinstance(output, dict):
        return None
    labels, scores = output.get("labels"), output.get("scores")
    if not isinstance(labels, list) or not isinstance(scores, list) or len(labels) != len(scores):
        return None
    try:
        return {str(label): float(score) for label, score in zip(labels, scores, strict=False)}
    except (TypeError, ValueError):
        return None


def as_moderator(classifier: ClassifierLike) -> ZeroShotModerator | None:
    """Normalise ``story_then_moderate``'s ``classifier`` argument.

    ``None``/``False``: no classifier. ``True``: the configured zero-shot model. A
    :class:`ZeroShotModerator`: as given. A Runnable, tool or callable: wrapped in a
    :class:`ZeroShotModerator` with the default labels.
    """
    if classifier is None or classifier is False:
        return None
    if isinstance(classifier, ZeroShotModerator):
        return classifier

    try:
        return ZeroShotModerator(classifier=classifier)
    except ValidationError as exc:
        raise InvalidInputError(str(exc.errors(include_url=False)[0]["msg"]).removeprefix("Value error, ")) from None


class Moderation(BaseModel):
    """Every moderator's verdict on one text, combined."""

    kid_friendly: bool
    """True only when every moderator approved."""
    checks: list[ModeratorVerdict]
    """Each moderator's verdict, the LLM's first."""

    @property
    def verdict(self) -> str:
        """The human-readable verdict: the decision, then each moderator's reason."""
        head = "Kid-friendly." if self.kid_friendly else "Not kid-friendly."
        return " ".join([head, *(check.summary() for check in self.checks)])

    @property
    def reasons(self) -> str:
        """Why it was rejected, for the rewrite prompt (empty when approved)."""
        parts = []
        for check in self.checks:
            if check.kid_friendly:
                continue
            if not check.readable:
                parts.append("the moderator could not confirm that it is kid-friendly")
            elif check.source == "classifier":
                parts.append(f"a classifier judged it unsuitable for children ({check.reason})")
            else:
                parts.append(check.reason)
        return "; ".join(parts)


def combine(checks: list[ModeratorVerdict]) -> Moderation:
    """Approve only when there is at least one verdict and every verdict approves."""
    return Moderation(kid_friendly=bool(checks) and all(c.kid_friendly for c in checks), checks=checks)


def empty_story_moderation() -> Moderation:
    """The verdict on a blank draft: not a story, so not approved (no moderator is asked)."""
    return combine(
        [
            ModeratorVerdict(
                kid_friendly=False,
                source="story",
                reason="the story model returned an empty story",
                raw="",
            )
        ]
    )
