"""Reading tool calls out of a local model's text, in the formats open instruct models emit.

- Hermes / Qwen 2.5: one or more ``<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>``
  blocks, possibly after some text; a final block may lack its closing tag (generation
  stopped at the end-of-turn token).
- Llama 3.1: the whole answer is ``{"name": ..., "parameters": {...}}``, optionally after
  ``<|python_tag|>``; several calls may come as a JSON list or separated by ``;``.
- Either inside a Markdown code fence (```` ```json ... ``` ````), which small models add.

A block that is not valid JSON, lacks a name, or names a tool that was not offered stays in
the message as plain text: a model's malformed output is an answer to show, not an error.
Every call gets a fresh unique id.

transformers 5's ``tokenizer.parse_response`` parses a model's answer where its tokenizer
carries a ``response_template``; :class:`~genlab.models.chat.ChatLocalModel` uses it first
(:func:`parse_with_tokenizer`). Most tokenizers carry none, it raises on malformed JSON and
it does not read Llama 3.1's bare JSON, so this lenient parser stays the fallback.

:func:`complete_call_end` finds where an answer's tool calls are complete and followed by
something else (a small model repeating itself, or rambling on): the chat model stops
generating there instead of running to its token limit.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Collection, Sequence
from typing import Any

from langchain_core.messages import ToolCall, ToolCallChunk
from langchain_core.messages.tool import tool_call as make_tool_call
from langchain_core.messages.tool import tool_call_chunk
from pydantic import BaseModel, Field

#: Where a tool call may begin in a model's text; a stream buffers from the first one.
CALL_MARKERS = ("<tool_call>", "<|python_tag|>", "```")
#: Markup tokens that must survive decoding for the parser to see them.
MARKER_TOKENS = ("<tool_call>", "</tool_call>", "<|python_tag|>")

_HERMES = re.compile(r"<tool_call>(.*?)(?:</tool_call>|(?=<tool_call>)|\Z)", re.DOTALL)
_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_JSON = json.JSONDecoder()


class ParsedOutput(BaseModel):
    """A model's answer split into text and tool calls."""

    content: str
    """The text outside the recognised tool calls, stripped of surrounding whitespace."""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    """The calls, in the order they appear, each with a unique ``id``."""


def new_call_id() -> str:
    """Return a fresh tool-call id (``call_`` and 24 hex digits)."""
    return f"call_{uuid.uuid4().hex[:24]}"


def tool_call_chunks(calls: Sequence[ToolCall]) -> list[ToolCallChunk]:
    """``calls`` as a stream's last chunk carries them: arguments as JSON text, indexed in order."""
    return [
        tool_call_chunk(name=call["name"], args=json.dumps(call["args"]), id=call["id"], index=index)
        for index, call in enumerate(calls)
    ]


def parse_tool_calls(text: str, tool_names: Collection[str] | None = None) -> ParsedOutput:
    """Split a model's answer into plain text and tool calls.

    Args:
        text: The decoded answer (special tokens such as ``<tool_call>`` kept).
        tool_names: The tools that were offered; a call to any other name stays text.
            ``None`` accepts any name; an empty collection accepts none.

    Returns:
        The text and the calls; never raises on malformed input.
    """
    allowed = None if tool_names is None else set(tool_names)
    if allowed is not None and not allowed:
        return ParsedOutput(content=text.strip())
    spans: list[tuple[int, int, list[ToolCall]]] = []
    for match in _HERMES.finditer(text):
        calls = _calls_from_json(_unfence(match.group(1)), allowed)
        if calls is not None:
            spans.append((match.start(), match.end(), calls))
    if not spans and "<tool_call>" not in text:
        whole = _whole_answer_calls(text, allowed)
        if whole is not None:
            return ParsedOutput(content="", tool_calls=whole)
        for match in _FENCE.finditer(text):
            calls = _calls_from_json(match.group(1), allowed)
            if calls is not None:
                spans.append((match.start(), match.end(), calls))
    pieces: list[str] = []
    tool_calls: list[ToolCall] = []
    position = 0
    for start, end, calls in spans:
        pieces.append(text[position:start])
        tool_calls.extend(calls)
        position = end
    pieces.append(text[position:])
    return ParsedOutput(content="".join(pieces).strip(), tool_calls=tool_calls)


def _unfence(body: str) -> str:
    match = _FENCE.fullmatch(body.strip())
    return match.group(1) if match else body


def _whole_answer_calls(text: str, allowed: set[str] | None) -> list[ToolCall] | None:
    """Llama 3.1 style: the entire answer (after ``<|python_tag|>``, maybe fenced) is the call."""
    body = text.strip()
    body = body.removeprefix("<|python_tag|>").strip()
    if body.startswith("```"):
        match = _FENCE.fullmatch(body)
        if match is None:
            return None
        body = match.group(1)
    return _calls_from_json(body, allowed)


def _calls_from_json(body: str, allowed: set[str] | None) -> list[ToolCall] | None:
    """Parse ``body`` as one or more calls (objects, a list, or ``;``-separated); ``None`` if it
    is anything else or names an unknown tool."""
    values = _json_values(body)
    if not values:
        return None
    objects: list[Any] = []
    for value in values:
        objects.extend(value if isinstance(value, list) else [value])
    calls = [call_from_object(obj, allowed) for obj in objects]
    if not calls or any(call is None for call in calls):
        return None
    return [call for call in calls if call is not None]


def _json_values(body: str) -> list[Any] | None:
    """Every JSON value in ``body``, which must hold nothing else but ``;``, ``,`` and spaces."""
    values: list[Any] = []
    position = 0
    while True:
        while position < len(body) and (body[position].isspace() or (values and body[position] in ";,")):
            position += 1
        if position == len(body):
            return values
        if body[position] not in "{[":
            return None
        try:
            value, position = _JSON.raw_decode(body, position)
        except json.JSONDecodeError:
            return None
        values.append(value)


def call_from_object(obj: Any, allowed: set[str] | None) -> ToolCall | None:
    """A tool call from ``{"name", "arguments"|"parameters"}`` (or OpenAI's shape), or ``None``."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):  # OpenAI shape: {"type": "function", "function": {...}}
        obj = obj["function"]
    name = obj.get("name")
    if not isinstance(name, str) or not name or (allowed is not None and name not in allowed):
        return None
    args: Any = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(args, str):  # arguments encoded as a JSON string, OpenAI style
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError:
            return None
    if args is None:
        args = {}
    if not isinstance(args, dict):
        return None
    return make_tool_call(name=name, args=args, id=new_call_id())


def parse_with_tokenizer(
    tokenizer: Any, text: str, prompt: str, tools: list[dict[str, Any]], names: Collection[str]
) -> ParsedOutput | None:
    """Parse ``text`` with ``tokenizer.parse_response`` where the tokenizer has a response template.

    Returns:
        The parsed output, or ``None`` when the tokenizer has no template, its parser fails,
        or a call names a tool that was not offered (then the lenient parser decides).
    """
    if getattr(tokenizer, "response_template", None) is None:
        return None
    try:
        message = tokenizer.parse_response(text, prefix=prompt, tools=tools or None)
    except Exception:
        return None
    if not isinstance(message, dict):
        return None
    calls = [call_from_object(call, set(names)) for call in message.get("tool_calls") or []]
    if any(call is None for call in calls):
        return None
    content = message.get("content") or ""
    return ParsedOutput(content=str(content).strip(), tool_calls=[c for c in calls if c is not None])


def complete_call_end(text: str, tool_names: Collection[str]) -> int | None:
    """Where the answer's complete tool call(s) end, when something other than a call follows.

    Returns the end of the calls in ``text``, or ``None`` while the answer may still be
    (or become) a well-formed call answer: no call yet, a call still open, or only
    whitespace, separators or the start of another call after it.
    """
    allowed = set(tool_names)
    last = text.rfind("</tool_call>")
    if last >= 0:
        end = last + len("</tool_call>")
        rest = text[end:].lstrip()
        if rest and not rest.startswith("<tool_call>") and not "<tool_call>".startswith(rest):
            return end
        return None
    start = len(text) - len(text.lstrip())
    body = text[start:]
    if body.startswith("<|python_tag|>"):
        start += len("<|python_tag|>")
        start += len(text[start:]) - len(text[start:].lstrip())
    position = start
    found = False
    seen: list[Any] = []
    while position < len(text) and text[position] in "{[":
        try:
            value, end = _JSON.raw_decode(text, position)
        except json.JSONDecodeError:
            return None
        if _calls_from_json(json.dumps(value), allowed) is None:
            return None
        if value in seen:
            return position  # the same call again: a model repeating itself
        seen.append(value)
        found, position = True, end
        gap = len(text[position:]) - len(text[position:].lstrip(" \t\n;,"))
        if position + gap < len(text) and text[position + gap] in "{[":
            position += gap
        else:
            break
    if not found:
        return None
    rest = text[position:]
    # Prose on the call's own line ("{...} is how I would call it") makes the answer prose;
    # anything on a later line is the model starting over or rambling on.
    if "\n" in rest.lstrip(" \t;,")[:1] and rest.strip(" \t\n;,"):
        return position
    return None
