"""Story, then moderation: the course's storytelling-and-moderating example as a dependable chain.

One LLM writes a story from the course's six-variable template; a second LLM is asked
whether it is kid-friendly, and its answer is read strictly (:mod:`genlab.chains.verdict`:
anything unreadable is a no). An optional zero-shot classifier gives a second opinion. A
rejected story can be sent back to the story LLM with the reasons, up to ``max_rewrites``
times. The result says whether the *last* story was approved, and a story is reported
approved only when every moderator approved that exact text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from genlab.chains.base import LLMLike, Stage, StagedChain, resolve_llm, text_chain
from genlab.chains.moderation import ClassifierLike, Moderation, ZeroShotModerator, as_moderator, combine, empty_story_moderation
from genlab.chains.prompts import COURSE_STORY_EXAMPLE, MODERATION_PROMPT, REWRITE_PROMPT, STORY_PROMPT, STORY_VARIABLES
from genlab.chains.verdict import ModeratorVerdict, parse_verdict
from genlab.chains.verdict_scoring import moderation_stage
from genlab.errors import InvalidInputError, describe_validation_error
from genlab.steps import Ask, Steps

#: Longest value of one story variable: a phrase, not a document.
MAX_VARIABLE_CHARS = 300
#: Most rewrites a chain may be asked for; each costs two or three model calls.
MAX_REWRITES = 10
#: Tokens the default moderator model may answer with.
MODERATOR_MAX_TOKENS = 96
#: Tokens a story (or a rewrite) may take: the course asks for a short story (under 200 words).
STORY_MAX_TOKENS = 256


def _field(name: str, description: str) -> Any:
    return Field(min_length=1, max_length=MAX_VARIABLE_CHARS, description=description, examples=[COURSE_STORY_EXAMPLE[name]])


class StoryInputs(BaseModel):
    """The course story template's six variables (all required)."""

    model_config = ConfigDict(extra="ignore")

    setting: str = _field("setting", "Where the story happens, e.g. 'enchanted forest'.")
    character: str = _field("character", "Who the story is about, e.g. 'brave adventurer'.")
    mysterious_object: str = _field("mysterious_object", "What the character finds, e.g. 'glowing crystal'.")
    magical_properties: str = _field("magical_properties", "What the object can do, e.g. 'the power to grant wishes'.")
    action: str = _field("action", "What the character decides to do, e.g. 'embark on a quest to uncover its origins'.")
    outcome: str = _field("outcome", "How it ends, e.g. 'a world filled with endless possibilities'.")

    @field_validator(*STORY_VARIABLES)
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return " ".join(value.split())


class StoryAttempt(BaseModel):
    """One story the chain wrote and what the moderators said about it."""

    story: str
    kid_friendly: bool
    verdict: str


class StoryResult(BaseModel):
    """What :func:`story_then_moderate` returns (as a plain dict)."""

    story: str
    """The last story written (the approved one when ``kid_friendly`` is True)."""
    kid_friendly: bool
    """Whether every moderator approved exactly ``story``."""
    verdict: str
    """Why, in words: the decision and each moderator's reason."""
    attempts: list[StoryAttempt]
    """Every story written, in order, with its verdict; the last one is ``story``."""


def parse_story_inputs(value: Any) -> StoryInputs:
    """Validate a chain input into :class:`StoryInputs`.

    Raises:
        InvalidInputError: The input is not a mapping, a variable is missing (the error names
            it), or a value is blank, not a string or longer than 300 characters.
    """
    if isinstance(value, StoryInputs):
        return value
    if not isinstance(value, Mapping):
        raise InvalidInputError(
            f"a story input must be a mapping with the keys {', '.join(STORY_VARIABLES)}; got {type(value).__name__}"
        )
    missing = [name for name in STORY_VARIABLES if name not in value]
    if missing:
        unexpected = sorted(str(k) for k in value if k not in STORY_VARIABLES)
        message = f"missing story variable{'s' if len(missing) > 1 else ''}: {', '.join(missing)}"
        message += f"; a story needs all of {', '.join(STORY_VARIABLES)}"
        if unexpected:
            message += f" (unexpected: {', '.join(unexpected)})"
        raise InvalidInputError(message)
    try:
        return StoryInputs.model_validate(dict(value))
    except ValidationError as exc:
        raise InvalidInputError(f"bad story variable: {describe_validation_error(exc, StoryInputs)}") from None


class StoryThenModerate(StagedChain):
    """The story-then-moderate chain; build it with :func:`story_then_moderate`."""

    name: str | None = "story_then_moderate"
    output_model: ClassVar[type[BaseModel]] = StoryResult

    story_llm: Any
    """Writes and rewrites the stories."""
    moderator_llm: Any
    """Answers whether a story is kid-friendly."""
    moderator: ZeroShotModerator | None = None
    """The optional classifier's second opinion."""
    max_rewrites: int = Field(default=0, ge=0, le=MAX_REWRITES)
    """How many times a rejected story is sent back to be rewritten for children."""

    def stages(self) -> dict[str, Stage]:
        stages = {
            "story": Stage(text_chain(STORY_PROMPT, self.story_llm).with_config(run_name="write_story")),
            "rewrite": Stage(text_chain(REWRITE_PROMPT, self.story_llm).with_config(run_name="rewrite_story")),
            "moderate": Stage(moderation_stage(MODERATION_PROMPT, self.moderator_llm).with_config(run_name="moderate_story")),
        }
        if self.moderator is not None:
            # One at a time: a local zero-shot pipeline is shared by the whole process.
            stages["classify"] = Stage(self.moderator.as_runnable().with_config(run_name="classify_story"), sequential=True)
        return stages

    def get_input_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        return StoryInputs

    def prepare(self, value: Any) -> StoryInputs:
        return parse_story_inputs(value)

    def steps(self, item: StoryInputs) -> Steps[StoryResult]:
        """Draft, moderate, and rewrite a rejected story up to ``max_rewrites`` times."""
        story = str((yield Ask.one("story", item.model_dump()))).strip()
        attempts: list[StoryAttempt] = []
        answers: list[str] = []  # what the moderator LLM said each time, to spot one that cannot judge
        for round_number in range(self.max_rewrites + 1):
            moderation = yield from self._moderate(story, answers)
            attempts.append(StoryAttempt(story=story, kid_friendly=moderation.kid_friendly, verdict=moderation.verdict))
            if moderation.kid_friendly or round_number == self.max_rewrites:
                break
            if story:
                request = {**item.model_dump(), "story": story, "reasons": moderation.reasons}
                story = str((yield Ask.one("rewrite", request))).strip()
            else:  # a blank draft has nothing to rewrite: draft it again from the template
                story = str((yield Ask.one("story", item.model_dump()))).strip()
        return self._result(attempts, answers)

    def _moderate(self, story: str, answers: list[str]) -> Steps[Moderation]:
        """Ask every moderator about ``story``; a blank story is rejected without asking."""
        if not story:
            return empty_story_moderation()
        answer = yield Ask.one("moderate", {"story": story})
        verdict = answer if isinstance(answer, ModeratorVerdict) else parse_verdict(answer)
        answers.append(verdict.raw)
        verdicts = [verdict]
        if self.moderator is not None:
            verdicts.append(self.moderator.judge((yield Ask.one("classify", story))))
        return combine(verdicts)

    def _result(self, attempts: list[StoryAttempt], answers: list[str]) -> StoryResult:
        """The result for one input: its last attempt, and all attempts.

        When every attempt was rejected, the verdict says that the chain gave up and, when
        the moderator answered every version alike, that it may be unable to judge.
        """
        last = attempts[-1]
        verdict = last.verdict
        if not last.kid_friendly and len(attempts) > 1:
            why = f"Gave up after {len(attempts)} versions (max_rewrites={self.max_rewrites}): every one was rejected."
            if len(answers) == len(attempts) and len(set(answers)) == 1:
                why += (
                    f" The moderator gave the same answer to every version ({answers[0][:60]!r}), so it may be too small"
                    " to judge these stories: try a larger moderator model or add classifier=True."
                )
            verdict = f"{why} {verdict}"
        return StoryResult(story=last.story, kid_friendly=last.kid_friendly, verdict=verdict, attempts=attempts)


def story_then_moderate(
    story_llm: LLMLike | None = None,
    moderator_llm: LLMLike | None = None,
    *,
    classifier: ClassifierLike = None,
    max_rewrites: int = 0,
) -> StoryThenModerate:
    """Build the chain that writes a story and checks that it is kid-friendly.

    Input: a mapping with the course template's six variables (``setting``, ``character``,
    ``mysterious_object``, ``magical_properties``, ``action``, ``outcome``). Output:
    ``{"story", "kid_friendly", "verdict", "attempts": [{"story", "kid_friendly", "verdict"}, ...]}``.
    ``story`` is the last attempt; ``kid_friendly`` is True only when every moderator
    approved exactly that text. ``batch`` runs each stage for all inputs in one model call.

    Args:
        story_llm: Writes (and rewrites) the story: any LangChain LLM or chat model. None
            uses the configured local text model, loaded on first use.
        moderator_llm: Asked whether the story is kid-friendly. None: the configured local
            text model. Its answer must start with yes/no or be a JSON verdict; anything
            else counts as not kid-friendly.
        classifier: An optional second opinion: ``True`` for the configured zero-shot model,
            a :class:`ZeroShotModerator`, the ``classify_zero_shot`` tool, any Runnable taking
            ``{"text", "labels", "multi_label"}``, or a callable ``f(text, labels)`` such as a
            transformers zero-shot pipeline.
        max_rewrites: How many times (0 to 10) a rejected story is sent back to the story
            LLM, with the moderators' reasons, to be rewritten for children.

    Returns:
        An LCEL Runnable (``invoke``, ``batch``, ``ainvoke``, ``abatch``; ``stream`` yields
        the checked result once). Building it loads no model.

    Raises:
        InvalidInputError: ``max_rewrites`` is out of range or a model argument is not a model.
    """
    if isinstance(max_rewrites, bool) or not isinstance(max_rewrites, int) or not 0 <= max_rewrites <= MAX_REWRITES:
        raise InvalidInputError(f"max_rewrites must be a whole number from 0 to {MAX_REWRITES}, got {max_rewrites!r}")
    return StoryThenModerate(
        story_llm=resolve_llm(story_llm, what="story_llm", max_new_tokens=STORY_MAX_TOKENS),
        # A verdict is a word and a sentence; a long answer would only cost time.
        moderator_llm=resolve_llm(moderator_llm, what="moderator_llm", max_new_tokens=MODERATOR_MAX_TOKENS),
        moderator=as_moderator(classifier),
        max_rewrites=max_rewrites,
    )
