"""The ``write_story`` tool: the story-then-moderate chain, for the agent.

It returns a story only when the moderators approved it; otherwise it says that it could
not write one that passed, and why — never the rejected text. Building the tool (and
importing :data:`write_story`) loads no model.
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import Runnable
from pydantic import BaseModel, ConfigDict, Field

from genlab.chains.base import LLMLike
from genlab.chains.moderation import ClassifierLike
from genlab.chains.prompts import COURSE_STORY_EXAMPLE
from genlab.chains.story import MAX_VARIABLE_CHARS, StoryInputs, story_then_moderate
from genlab.tools.base import GenlabTool


def _arg(name: str, description: str) -> Any:
    return Field(default=COURSE_STORY_EXAMPLE[name], min_length=1, max_length=MAX_VARIABLE_CHARS, description=description)


class WriteStoryArgs(StoryInputs):
    """Arguments of ``write_story``: the six story variables, each defaulting to the course's example."""

    setting: str = _arg("setting", "Where the story happens (default 'enchanted forest').")
    character: str = _arg("character", "Who the story is about (default 'brave adventurer').")
    mysterious_object: str = _arg("mysterious_object", "What the character finds (default 'glowing crystal').")
    magical_properties: str = _arg("magical_properties", "What the object can do (default 'the power to grant wishes').")
    action: str = _arg("action", "What the character decides to do (default 'embark on a quest to uncover its origins').")
    outcome: str = _arg("outcome", "How it ends (default 'a world filled with endless possibilities').")


class WriteStoryTool(GenlabTool):
    """Writes a children's story with the story-then-moderate chain; returns only approved stories.

    Like every genlab tool, called from Python it raises on bad arguments or an unavailable
    model; the agent turns those errors into tool messages.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str = "write_story"
    description: str = (
        "Write a short children's story from six story elements (setting, character, mysterious_object, "
        "magical_properties, action, outcome; each has a default) and check with a moderator that it is "
        "kid-friendly. Returns the story only if it passed the check; otherwise says it could not write one "
        "that passed, and why."
    )
    args_schema: type[BaseModel] = WriteStoryArgs
    chain: Runnable[Any, Any]
    """The story-then-moderate chain the tool runs."""

    def _execute(self, **kwargs: Any) -> str:
        # The chain's runs nest under the tool's: LangChain passes the tool's run config down
        # through its context, so no callbacks are threaded by hand.
        return tool_message(self.chain.invoke(_with_defaults(kwargs)))


def _with_defaults(kwargs: dict[str, Any]) -> dict[str, Any]:
    # The course's example fills any variable the caller left out.
    return {**COURSE_STORY_EXAMPLE, **{k: v for k, v in kwargs.items() if v is not None}}


def tool_message(result: dict[str, Any]) -> str:
    """The tool's answer: the approved story, or why no story passed (never a rejected story)."""
    if result["kid_friendly"]:
        return f"{result['story']}\n\n(Checked: {result['verdict']})"
    tries = len(result["attempts"])
    return (
        f"I could not write a story that passed the kid-friendly check ({tries} "
        f"attempt{'s' if tries != 1 else ''}). Last verdict: {result['verdict']}"
    )


def make_write_story_tool(
    story_llm: LLMLike | None = None,
    moderator_llm: LLMLike | None = None,
    classifier: ClassifierLike = None,
    max_rewrites: int = 1,
) -> WriteStoryTool:
    """Build a ``write_story`` tool over :func:`~genlab.chains.story_then_moderate`.

    Args:
        story_llm: Writes the story; None: the configured local text model (loaded on first use).
        moderator_llm: Judges it; None: the configured local text model.
        classifier: Optional zero-shot second opinion (see ``story_then_moderate``).
        max_rewrites: Rewrites of a rejected story before giving up (0 to 10).

    Returns:
        A LangChain tool named ``write_story``.
    """
    chain = story_then_moderate(story_llm, moderator_llm, classifier=classifier, max_rewrites=max_rewrites)
    return WriteStoryTool(chain=chain)


write_story = make_write_story_tool()
"""The default ``write_story`` tool: configured local models, one rewrite, no classifier."""
