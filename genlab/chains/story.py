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
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from genlab.chains.base import LLMLike, Plan, StageCall, StagedChain, resolve_llm, text_chain
from genlab.chains.moderation import ClassifierLike, Moderation, ZeroShotModerator, as_moderator, combine, empty_story_moderation
from genlab.chains.prompts import COURSE_STORY_EXAMPLE, MODERATION_PROMPT, REWRITE_PROMPT, STORY_PROMPT, STORY_VARIABLES
from genlab.chains.verdict import ModeratorVerdict, parse_verdict
from genlab.chains.verdict_scoring import moderation_stage
from genlab.errors import InvalidInputError

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
        problems = []
        for error in exc.errors(include_url=False):
            where = ".".join(str(p) for p in error.get("loc", ())) or "input"
            problems.append(f"{where}: {str(error.get('msg', 'invalid')).removeprefix('Value error, ')}")
        raise InvalidInputError(
            "bad story variable: " + "; ".join(problems) + f" (each must be text of 1 to {MAX_VARIABLE_CHARS} characters)"
        ) from None


class StoryState:
    """One input's progress through the plan: its variables, current story, attempts, failure."""

    def __init__(self, inputs: StoryInputs) -> None:
        self.inputs = inputs
        self.story = ""
        self.attempts: list[StoryAttempt] = []
        self.error: BaseException | None = None
        self.moderation: Moderation | None = None
        self.llm_answers: list[str] = []

    def moderated(self) -> Moderation:
        """The latest moderation; every state without an error has one once it was moderated."""
        if self.moderation is None:
            raise RuntimeError("the story has not been moderated yet")
        return self.moderation


class StoryThenModerate(StagedChain):
    """The story-then-moderate chain; build it with :func:`story_then_moderate`."""

    name: str | None = "story_then_moderate"

    story_llm: Any
    """Writes and rewrites the stories."""
    moderator_llm: Any
    """Answers whether a story is kid-friendly."""
    moderator: ZeroShotModerator | None = None
    """The optional classifier's second opinion."""
    max_rewrites: int = Field(default=0, ge=0, le=MAX_REWRITES)
    """How many times a rejected story is sent back to be rewritten for children."""

    _stages: dict[str, Runnable[Any, Any]] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any) -> None:
        super().model_post_init(context)
        self._stages = {
            "story": text_chain(STORY_PROMPT, self.story_llm).with_config(run_name="write_story"),
            "rewrite": text_chain(REWRITE_PROMPT, self.story_llm).with_config(run_name="rewrite_story"),
            "moderate": moderation_stage(MODERATION_PROMPT, self.moderator_llm).with_config(run_name="moderate_story"),
        }
        if self.moderator is not None:
            self._stages["classify"] = self.moderator.as_runnable().with_config(run_name="classify_story")

    def get_input_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        return StoryInputs

    def get_output_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        return StoryResult

    def prepare(self, value: Any) -> StoryInputs:
        return parse_story_inputs(value)

    def stage(self, name: str) -> Runnable[Any, Any]:
        return self._stages[name]

    def plan(self, items: list[StoryInputs]) -> Plan:
        states = [StoryState(inputs) for inputs in items]
        yield from self.story_steps(states)
        return [state.error or self.result(state) for state in states]

    # The steps, reusable by chains that continue from the approved story (media.py).

    def story_steps(self, states: list[StoryState]) -> Plan:
        """Draft, moderate and rewrite every state's story; failures land in ``state.error``."""
        outputs = yield StageCall("story", [s.inputs.model_dump() for s in states], list(range(len(states))))
        _take_stories(states, outputs)
        pending = [i for i, s in enumerate(states) if s.error is None]
        for round_number in range(self.max_rewrites + 1):
            yield from self._moderate(states, pending)
            rejected = [i for i in pending if states[i].error is None and not states[i].moderated().kid_friendly]
            if round_number == self.max_rewrites or not rejected:
                return []
            # A blank draft has nothing to rewrite: draft it again from the template.
            redraft = [i for i in rejected if not states[i].story]
            rewrite = [i for i in rejected if states[i].story]
            if redraft:
                outputs = yield StageCall("story", [states[i].inputs.model_dump() for i in redraft], redraft)
                _take_stories([states[i] for i in redraft], outputs)
            if rewrite:
                requests = [
                    {**states[i].inputs.model_dump(), "story": states[i].story, "reasons": states[i].moderated().reasons}
                    for i in rewrite
                ]
                outputs = yield StageCall("rewrite", requests, rewrite)
                _take_stories([states[i] for i in rewrite], outputs)
            pending = [i for i in rejected if states[i].error is None]
        return []

    def _moderate(self, states: list[StoryState], indices: list[int]) -> Plan:
        """Ask every moderator about each state's current story and record the attempt."""
        stories = [i for i in indices if states[i].story]
        for i in indices:
            if not states[i].story:
                states[i].moderation = empty_story_moderation()
        outputs = yield StageCall("moderate", [{"story": states[i].story} for i in stories], stories)
        checks: dict[int, list[Any]] = {}
        for i, answer in zip(stories, outputs, strict=True):
            if isinstance(answer, BaseException):
                states[i].error = answer
            else:
                verdict = answer if isinstance(answer, ModeratorVerdict) else parse_verdict(answer)
                states[i].llm_answers.append(verdict.raw)
                checks[i] = [verdict]
        if self.moderator is not None:
            asked = [i for i in stories if i in checks]
            outputs = yield StageCall("classify", [states[i].story for i in asked], asked, sequential=True)
            for i, output in zip(asked, outputs, strict=True):
                if isinstance(output, BaseException):
                    states[i].error = output
                    del checks[i]
                else:
                    checks[i].append(self.moderator.judge(output))
        for i, verdicts in checks.items():
            states[i].moderation = combine(verdicts)
        for i in indices:
            state = states[i]
            if state.error is None:
                moderation = state.moderated()
                state.attempts.append(
                    StoryAttempt(story=state.story, kid_friendly=moderation.kid_friendly, verdict=moderation.verdict)
                )
        return []

    def result(self, state: StoryState) -> dict[str, Any]:
        """The output for one input: its last attempt, and all attempts.

        When every attempt was rejected, the verdict says that the chain gave up and, when
        the moderator answered every version alike, that it may be unable to judge.
        """
        last = state.attempts[-1]
        verdict = last.verdict
        if not last.kid_friendly and len(state.attempts) > 1:
            why = f"Gave up after {len(state.attempts)} versions (max_rewrites={self.max_rewrites}): every one was rejected."
            answers = state.llm_answers
            if len(answers) == len(state.attempts) and len(set(answers)) == 1:
                why += (
                    f" The moderator gave the same answer to every version ({answers[0][:60]!r}), so it may be too small"
                    " to judge these stories: try a larger moderator model or add classifier=True."
                )
            verdict = f"{why} {verdict}"
        result = StoryResult(story=last.story, kid_friendly=last.kid_friendly, verdict=verdict, attempts=state.attempts)
        return result.model_dump()


def _take_stories(states: list[StoryState], outputs: list[Any]) -> None:
    for state, output in zip(states, outputs, strict=True):
        if isinstance(output, BaseException):
            state.error = output
        else:
            state.story = str(output).strip()


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
