"""How one chat call treats the bound tools: which to show, which to accept, how to stream.

:class:`ToolPlan` is what ``tool_choice`` means for one call of
:class:`~genlab.models.chat.ChatLocalModel`; :class:`AnswerStream` shows an answer's text as
it streams while holding back what may be a tool call, so that streamed and invoked answers
are the same.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.messages import ToolCall
from pydantic import BaseModel, Field

from genlab.errors import InvalidInputError, PromptTooLongError
from genlab.models.generation import partial_stop_length
from genlab.models.tool_calls import CALL_MARKERS

logger = logging.getLogger(__name__)


class ToolPlan(BaseModel):
    """What a call does with the bound tools, given ``tool_choice``."""

    schemas: list[dict[str, Any]] = Field(default_factory=list)
    """Tools rendered into the prompt."""
    names: list[str] = Field(default_factory=list)
    """Tool names accepted in the answer; empty: the answer is never parsed for calls."""
    forced: str | bool = False
    """A tool the model must call (its name), any tool (``True``), or none forced."""
    max_calls: int | None = None
    """Most calls one answer may carry (the chat template's limit); ``None``: no limit."""


def _tool_name(schema: dict[str, Any]) -> str:
    return schema["function"]["name"]


def plan_tools(tools: Sequence[dict[str, Any]] | None, tool_choice: Any) -> ToolPlan:
    """What one call does with the bound tools (OpenAI-format schemas), given LangChain's ``tool_choice``.

    Raises:
        InvalidInputError: ``tool_choice`` names no bound tool and is none of the keywords.
    """
    schemas = list(tools or [])
    if not schemas or tool_choice in ("none", False):
        return ToolPlan()
    names = [_tool_name(s) for s in schemas]
    if tool_choice in (None, "auto"):
        return ToolPlan(schemas=schemas, names=names)
    if tool_choice in ("any", "required", True):
        return ToolPlan(schemas=schemas, names=names, forced=True)
    name = tool_choice
    if isinstance(tool_choice, dict):
        name = (tool_choice.get("function") or {}).get("name") or tool_choice.get("name")
    if not isinstance(name, str) or name not in names:
        raise InvalidInputError(
            f"tool_choice must be 'auto', 'none', 'any', 'required' or one of the bound tools "
            f"({', '.join(names)}), got {tool_choice!r}"
        )
    return ToolPlan(schemas=[s for s in schemas if _tool_name(s) == name], names=[name], forced=name)


def _tools_advice(plan: ToolPlan) -> str:
    # A chat user cannot shorten the system prompt or the tool schemas; name what they can change.
    return (
        f"the system prompt and {len(plan.schemas)} tool schemas take much of it; use a chat model with a longer "
        "context (GENLAB_CHAT_MODEL, or --model), offer fewer tools (build_agent(tools=[...])), lower "
        "max_new_tokens (--max-new-tokens), or start a new conversation (/reset)"
    )


@contextlib.contextmanager
def context_advice(plan: ToolPlan) -> Iterator[None]:
    """Re-raise a too-long prompt with advice that fits a chat with tools."""
    try:
        yield
    except PromptTooLongError as exc:
        if not plan.schemas:
            raise
        raise PromptTooLongError(
            f"the conversation is {exc.prompt_tokens} tokens; with max_new_tokens={exc.new_tokens} it exceeds "
            f"the chat model's context of {exc.context} tokens: {_tools_advice(plan)}",
            prompt_tokens=exc.prompt_tokens,
            new_tokens=exc.new_tokens,
            context=exc.context,
        ) from exc


class AnswerStream:
    """Turns streamed text into content deltas, holding back what may be a tool call.

    Text is shown as it comes until a tool-call marker (``<tool_call>``, a code fence,
    ``<|python_tag|>``, or ``{`` / ``[`` opening the answer) appears; from there on it is
    buffered and parsed once complete. Leading whitespace is never shown and trailing
    whitespace only once more text follows, so the streamed content adds up to exactly the
    ``invoke`` content.
    """

    def __init__(self, names: Sequence[str], prefill: str, parse: Any) -> None:
        self.parse = parse
        self.names = list(names)
        self.markers = CALL_MARKERS if names else ()
        self.full = prefill
        self.sent = 0
        self.buffering = False

    def feed(self, delta: str) -> str:
        self.full += delta
        if self.buffering:
            return ""
        text = self.full.lstrip()
        if self.markers and text[:1] in ("{", "["):
            self.buffering = True
            return ""
        found = [i for i in (text.find(m, self.sent) for m in self.markers) if i >= 0]
        if found:
            self.buffering = True
            ready = min(found)
        else:
            ready = len(text) - partial_stop_length(text, self.markers)
        ready = max(len(text[:ready].rstrip()), self.sent)
        delta_out = text[self.sent : ready]
        self.sent = ready
        return delta_out

    def finish(self) -> tuple[str, list[ToolCall]]:
        """Return the content not yet shown and the tool calls."""
        content, calls = self.parse(self.full)
        shown = self.full.lstrip()[: self.sent]
        if not content.startswith(shown):  # cannot happen: calls start at a marker
            logger.warning("streamed text and parsed content disagree; content may repeat")
            return content, calls
        return content[len(shown) :], calls
