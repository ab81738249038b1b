"""The Chat tab: the course assistant (:func:`genlab.agents.open_chat`), one session per browser session.

A turn's events (:meth:`genlab.agents.ChatSession.stream`) become Chatbot messages: the
answer as it streams, each tool call as a collapsible step (its name, arguments and short
result), images and audio the tools made shown inline, and the course passages the answer
cites listed as numbered sources. Every browser session gets a conversation of its own,
saved under a fresh name it can be resumed by (``genlab chat --session NAME`` resumes it
too); typing another name in "Session" opens that one.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import gradio as gr
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from genlab.agents import open_chat
from genlab.agents.formatting import format_args, shorten
from genlab.agents.memory import check_session_name
from genlab.agents.session import TextDelta, ToolCallEvent, ToolResultEvent, TurnEnd
from genlab.errors import InvalidInputError
from genlab.ui.errors import shows_errors

#: File types a tool's result may name that the Chatbot shows inline.
MEDIA_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".wav", ".mp3", ".flac", ".ogg")
RESULT_CHARS = 600
#: Seconds between two updates of a streaming answer in the page.
UPDATE_S = 0.25
_SOURCE_LINE = re.compile(r"^\[(\d+)\] (.+)$")
_CITATION = re.compile(r"\[(\d+)\]")


def new_session_name() -> str:
    """A fresh session name for a browser session: ``web-<date>-<time>-<4 hex>``."""
    return f"web-{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


class ChatState:
    """One browser session's conversation: its name, the open session and what the page shows.

    Args:
        name: The session's name (resumable by it).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.session: Any = None
        """The :class:`~genlab.agents.ChatSession`, opened on the first message."""
        self.history: list[dict[str, Any]] = []
        """The Chatbot's messages; kept here, so the page never sends them back."""

    def open(self) -> Any:
        """Open the session now if it is not open yet (loads the chat model's config)."""
        if self.session is None:
            self.session = open_chat(self.name)
            self.history = history_from_messages(self.session.messages())
        return self.session

    def status(self) -> str:
        """One line about the session for the page."""
        if self.session is None:
            return f"Session `{self.name}` (saved; opens with your first message)."
        count = self.session.message_count()
        return f"Session `{self.name}`: {count} messages, saved; resume it here or with `genlab chat --session {self.name}`."


class TurnView:
    """Turns chat events into Chatbot messages, appended to ``history`` in place."""

    def __init__(self, history: list[dict[str, Any]]) -> None:
        self.history = history
        self._text: dict[str, Any] | None = None
        self._steps: dict[str, dict[str, Any]] = {}
        self._sources: dict[int, str] = {}

    def user(self, text: str) -> None:
        self.history.append({"role": "user", "content": text})
        self._text = None

    def add(self, event: Any) -> None:
        """Show one event of :meth:`~genlab.agents.ChatSession.stream`."""
        if isinstance(event, TextDelta):
            if self._text is None:
                self._text = {"role": "assistant", "content": ""}
                self.history.append(self._text)
            self._text["content"] += event.text
        elif isinstance(event, ToolCallEvent):
            self._text = None
            step = {
                "role": "assistant",
                "content": f"Arguments: `{format_args(event.args, 400)}`",
                "metadata": {"title": f"Tool: {event.name}", "log": shorten(format_args(event.args), 60), "status": "pending"},
            }
            self._steps[event.id or event.name] = step
            self.history.append(step)
        elif isinstance(event, ToolResultEvent):
            self._tool_result(event)
        elif isinstance(event, TurnEnd):
            self._cited_sources(event.answer)
            self._text = None

    def stopped(self) -> None:
        """Mark the turn as stopped by the user: pending steps end, a note says so."""
        for step in self._steps.values():
            if step["metadata"].get("status") == "pending":
                step["metadata"]["status"] = "done"
                step["metadata"]["log"] = "cancelled"
        self.history.append({"role": "assistant", "content": "*(stopped)*"})
        self._text = None

    def _tool_result(self, event: ToolResultEvent) -> None:
        self._text = None
        step = self._steps.get(event.id or event.name)
        if step is None:  # a result without its call (a resumed history cut by a cancel)
            step = {"role": "assistant", "content": "", "metadata": {"title": f"Tool: {event.name}"}}
            self.history.append(step)
        label = "Error" if event.error else "Result"
        step["content"] = f"{step['content']}\n\n{label}: {shorten(event.content, RESULT_CHARS)}".strip()
        step["metadata"]["status"] = "done"
        if event.error:
            step["metadata"]["title"] = f"Tool: {event.name} (failed)"
        if event.name == "search_course" and not event.error:
            for line in event.content.splitlines():
                match = _SOURCE_LINE.match(line)
                if match:
                    self._sources[int(match.group(1))] = match.group(2)
        for path in media_paths(event.content):
            self.history.append({"role": "assistant", "content": {"path": str(path)}})

    def _cited_sources(self, answer: str) -> None:
        cited = sorted({int(n) for n in _CITATION.findall(answer) if int(n) in self._sources})
        if cited:
            lines = "\n".join(f"- [{n}] {self._sources[n]}" for n in cited)
            self.history.append({"role": "assistant", "content": f"**Sources**\n\n{lines}"})


def media_paths(content: str) -> list[Path]:
    """Existing image and audio files named in a tool's JSON result (``path`` fields, at any depth)."""
    try:
        data = json.loads(content)
    except ValueError:
        return []
    found: list[Path] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "path" and isinstance(item, str) and item.lower().endswith(MEDIA_SUFFIXES):
                    if Path(item).is_file():
                        found.append(Path(item))
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(data)
    return found


def history_from_messages(messages: list[Any]) -> list[dict[str, Any]]:
    """The Chatbot messages of a saved conversation (user, assistant and tool messages)."""
    history: list[dict[str, Any]] = []
    view = TurnView(history)
    for message in messages:
        if isinstance(message, HumanMessage):
            view.user(message.text)
        elif isinstance(message, AIMessage):
            if message.text:
                view.add(TextDelta(text=message.text))
            for call in message.tool_calls:
                view.add(ToolCallEvent(name=call["name"], args=call["args"], id=call.get("id")))
            if not message.tool_calls:
                view.add(TurnEnd(answer=message.text))
        elif isinstance(message, ToolMessage):
            view.add(
                ToolResultEvent(
                    name=message.name or "", content=message.text, error=message.status == "error", id=message.tool_call_id
                )
            )
    return history


def start(default_session: str | None = None) -> tuple[ChatState, str, str, list[dict[str, Any]]]:
    """A new browser session: its state, session name, status line and (resumed) messages."""
    state = ChatState(default_session or new_session_name())
    if default_session:
        state.open()
    return state, state.name, state.status(), state.history


@shows_errors
def open_session(name: str, state: ChatState | None) -> tuple[ChatState, str, list[dict[str, Any]]]:
    """Open the session called ``name`` (resuming its conversation) in this browser session."""
    name = check_session_name((name or "").strip())
    if state is not None and state.session is not None and state.name == name:
        return state, state.status(), state.history
    state = ChatState(name)
    state.open()
    return state, state.status(), state.history


@shows_errors
def chat(message: str, state: ChatState | None) -> Iterator[tuple[list[dict[str, Any]], str, ChatState, str]]:
    """Run one turn; yields (messages, message box, state, status) as the answer streams (``/chat``).

    Closing the generator (the Stop button) cancels the turn: the model stops at its next
    token and a tool not yet started is skipped.
    """
    if not (message or "").strip():  # before the chat model loads
        raise InvalidInputError("the message is empty; type a question or a request")
    state = state or ChatState(new_session_name())
    session = state.open()
    view = TurnView(state.history)
    view.user(message)
    yield state.history, "", state, state.status()
    events = session.stream(message)
    finished = False
    shown_at = 0.0
    try:
        for event in events:
            view.add(event)
            # Every token re-renders the whole message in the browser: at 50 tokens/s on a
            # loaded 2-core machine the page stopped answering clicks (Stop) for over a minute.
            # Text is sent at most every UPDATE_S; tool steps at once.
            if not isinstance(event, TextDelta) or time.monotonic() - shown_at >= UPDATE_S:
                shown_at = time.monotonic()
                yield state.history, "", state, state.status()
        finished = True
    finally:
        events.close()
        if not finished:
            view.stopped()
    yield state.history, "", state, state.status()


def build(default_session: str | None = None) -> dict[str, Any]:
    """Lay out the Chat tab inside the current ``gr.Blocks``; returns its components by name."""
    state = gr.State(None)
    chatbot = gr.Chatbot(label="Course assistant", height=480, elem_id="chatbot", buttons=["copy"])
    with gr.Row():
        message = gr.Textbox(
            label="Message",
            placeholder="Ask about the course, or ask for a summary, a story, a picture or music. Enter sends.",
            scale=6,
            lines=1,
            max_lines=6,
        )
        send = gr.Button("Send", variant="primary", scale=1, min_width=80)
        stop = gr.Button("Stop", variant="stop", scale=1, min_width=80)
    with gr.Row():
        session = gr.Textbox(
            label="Session", info="A name to save this conversation under and resume it by.", scale=3, elem_id="chat-session"
        )
        open_button = gr.Button("Open session", scale=1, min_width=120)
    status = gr.Markdown(elem_id="chat-status")
    turn = gr.on(
        triggers=[message.submit, send.click],
        fn=chat,
        inputs=[message, state],
        outputs=[chatbot, message, state, status],
        api_name="chat",
        concurrency_limit=8,
    )
    stop.click(fn=None, cancels=[turn], api_visibility="private")
    gr.on(
        triggers=[open_button.click, session.submit],
        fn=open_session,
        inputs=[session, state],
        outputs=[state, status, chatbot],
        api_name="open_session",
    )

    def on_load() -> tuple[Any, str, str, list[dict[str, Any]]]:
        return start(default_session)

    return {"state": state, "session": session, "status": status, "chatbot": chatbot, "on_load": shows_errors(on_load)}
