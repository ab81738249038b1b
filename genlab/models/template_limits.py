"""What a chat template can render: how many tool calls one assistant message may carry.

Llama 3.1's template raises "This model only supports single tool-calls at once!" when an
assistant message holds several calls, so a history with a parallel call (from this model's
own lenient parser, or from another model) could not be rendered back. The limit is found
by rendering a probe conversation once per template; a template that takes one call gets
each answer's calls cut to the first, and a history with several calls per message is
rendered as one call and its result at a time (:func:`one_call_per_message`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from jinja2.exceptions import TemplateError
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

_LIMITS: dict[str, int | None] = {}
_LOCK = threading.Lock()

_PROBE_TOOL = {
    "type": "function",
    "function": {"name": "probe", "description": "A probe.", "parameters": {"type": "object", "properties": {}}},
}


def _probe_messages(calls: int) -> list[dict[str, Any]]:
    tool_calls = [{"id": f"call_{i}", "type": "function", "function": {"name": "probe", "arguments": {}}} for i in range(calls)]
    results = [{"role": "tool", "content": "ok", "name": "probe", "tool_call_id": f"call_{i}"} for i in range(calls)]
    return [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "", "tool_calls": tool_calls}, *results]


def max_tool_calls(tokenizer: Any) -> int | None:
    """Most tool calls one assistant message may carry in ``tokenizer``'s chat template.

    Returns:
        ``1`` when the template refuses two calls in one message but renders one; ``None``
        (no known limit) otherwise, including for a template that renders no tools at all.
    """
    template = getattr(tokenizer, "chat_template", None)
    if not isinstance(template, str) or not template:
        return None
    with _LOCK:
        if template in _LIMITS:
            return _LIMITS[template]

    def renders(calls: int) -> bool:
        try:
            tokenizer.apply_chat_template(_probe_messages(calls), tools=[_PROBE_TOOL], tokenize=False)
        except TemplateError:
            return False
        return True

    limit = 1 if renders(1) and not renders(2) else None
    with _LOCK:
        _LIMITS[template] = limit
    return limit


def one_call_per_message(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """Rewrite a history so that each assistant message carries at most one tool call.

    An answer with calls ``a`` and ``b`` followed by their results becomes: the answer with
    ``a``, ``a``'s result, an answer with ``b``, ``b``'s result. Results stay with their call.
    """
    out: list[BaseMessage] = []
    position = 0
    messages = list(messages)
    while position < len(messages):
        message = messages[position]
        position += 1
        if not isinstance(message, AIMessage) or len(message.tool_calls) < 2:
            out.append(message)
            continue
        results: list[ToolMessage] = []
        while position < len(messages) and isinstance(messages[position], ToolMessage):
            results.append(messages[position])  # type: ignore[arg-type]
            position += 1
        by_id = {r.tool_call_id: r for r in results}
        for index, call in enumerate(message.tool_calls):
            out.append(AIMessage(content=message.content if index == 0 else "", tool_calls=[call]))
            if call["id"] in by_id:
                out.append(by_id.pop(call["id"]))
        out.extend(r for r in results if r.tool_call_id in by_id)
    return out
