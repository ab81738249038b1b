"""LangChain messages as the dicts a tokenizer's chat template renders.

:class:`~genlab.models.chat.ChatLocalModel` renders a conversation with the tokenizer's own
chat template (``apply_chat_template``); the template wants OpenAI-style dicts, tool calls
included, and text only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ChatMessage, HumanMessage, SystemMessage, ToolMessage

from genlab.errors import InvalidInputError


def message_text(message: BaseMessage) -> str:
    """Return a message's text; content blocks other than text are refused.

    Raises:
        InvalidInputError: The message holds an image, audio or another non-text block.
    """
    content = message.content
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        elif isinstance(block, dict) and block.get("type") in {"tool_call", "tool_call_chunk", "reasoning"}:
            continue  # carried by the message's tool_calls / not part of the conversation text
        else:
            kind = block.get("type") if isinstance(block, dict) else type(block).__name__
            raise InvalidInputError(f"the local chat model takes text only; got a {kind!r} content block")
    return "".join(parts)


def to_chat_messages(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """Convert LangChain messages to the dicts chat templates expect.

    An AI message's tool calls become ``{"type": "function", "function": {"name", "arguments"}}``
    entries (arguments as a dict); a tool message becomes ``{"role": "tool", "content", "name"}``,
    its name taken from the call it answers when the message has none.

    Raises:
        InvalidInputError: A message type or content block the template cannot render.
    """
    names_by_id: dict[str, str] = {}
    rendered: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, SystemMessage):
            rendered.append({"role": "system", "content": message_text(message)})
        elif isinstance(message, HumanMessage):
            rendered.append({"role": "user", "content": message_text(message)})
        elif isinstance(message, AIMessage):
            entry: dict[str, Any] = {"role": "assistant", "content": message_text(message)}
            if message.tool_calls:
                entry["tool_calls"] = [
                    {"id": call["id"], "type": "function", "function": {"name": call["name"], "arguments": call["args"]}}
                    for call in message.tool_calls
                ]
                names_by_id.update({call["id"]: call["name"] for call in message.tool_calls if call["id"]})
            rendered.append(entry)
        elif isinstance(message, ToolMessage):
            rendered.append(
                {
                    "role": "tool",
                    "content": message_text(message),
                    "name": message.name or names_by_id.get(message.tool_call_id, ""),
                    "tool_call_id": message.tool_call_id,
                }
            )
        elif isinstance(message, ChatMessage):
            rendered.append({"role": message.role, "content": message_text(message)})
        else:
            raise InvalidInputError(f"cannot render a {type(message).__name__} for a chat template")
    return rendered
