"""A chat session: one named conversation with the agent, turn by turn, as a stream of events.

:class:`ChatSession` is the REPL's engine, usable without a terminal: ``stream(text)``
yields what happens during a turn (answer text as it is generated, each tool call and its
result, the end of the turn), ``ask(text)`` returns just the answer.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Generator, Iterator, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from pydantic import BaseModel, Field

from genlab.agents.agent import (
    CANCEL_KEY,
    CANCELLED_TOOL_RESULT,
    DEFAULT_MAX_MODEL_CALLS,
    TurnCancelled,
    agent_config,
    build_agent,
    cancel_on_token,
    is_step_limit,
)
from genlab.agents.chat_model import resolve_chat_model
from genlab.agents.formatting import first_sentence
from genlab.agents.memory import SessionRegistry, check_session_name, open_checkpointer, session_lock
from genlab.agents.toolset import default_tools
from genlab.errors import InvalidInputError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage
    from langchain_core.runnables import RunnableConfig
    from langchain_core.tools import BaseTool
    from langgraph.graph.state import CompiledStateGraph

logger = logging.getLogger(__name__)

_DONE = object()
RECURSION_MESSAGE = "The turn was stopped after too many steps; please ask again, more specifically."


class TextDelta(BaseModel):
    """A piece of the answer, as the model generates it."""

    kind: Literal["text"] = "text"
    text: str


class ToolCallEvent(BaseModel):
    """The model asked for a tool; it runs next."""

    kind: Literal["tool_call"] = "tool_call"
    name: str
    args: dict[str, Any]
    id: str | None = None


class ToolResultEvent(BaseModel):
    """A tool finished (or failed: ``error`` is true and ``content`` says why)."""

    kind: Literal["tool_result"] = "tool_result"
    name: str
    content: str
    error: bool = False
    id: str | None = None


class Notice(BaseModel):
    """Something the user should know during a turn (it waits for another process...)."""

    kind: Literal["notice"] = "notice"
    text: str


class TurnEnd(BaseModel):
    """The turn is over."""

    kind: Literal["end"] = "end"
    answer: str
    """The last thing the assistant said (its final answer, or why it stopped)."""
    stopped: bool = False
    """True when the turn hit the step limit instead of finishing."""


ChatEvent = Annotated[TextDelta | ToolCallEvent | ToolResultEvent | Notice | TurnEnd, Field(discriminator="kind")]

WAITING_MESSAGE = "(another genlab chat is answering in session {name}; this turn waits for it, then goes on)"


class ChatSession:
    """One named conversation with an agent from :func:`genlab.agents.build_agent`.

    Args:
        agent: The compiled agent (it must have a checkpointer).
        name: The session's name; it picks the conversation thread in ``registry``.
        registry: Which thread each session name is on; defaults to one kept in memory.
        tools: The agent's tools (those given to :func:`~genlab.agents.build_agent`), for
            :meth:`tool_descriptions`; none when not given.
        max_model_calls: The agent's step limit (sets LangGraph's recursion backstop).
        saved: Whether the conversation outlives the process (shown by the REPL).
    """

    def __init__(
        self,
        agent: CompiledStateGraph,
        *,
        name: str = "default",
        registry: SessionRegistry | None = None,
        tools: Sequence[BaseTool] | None = None,
        max_model_calls: int = DEFAULT_MAX_MODEL_CALLS,
        saved: bool = False,
    ) -> None:
        self.agent = agent
        self.name = check_session_name(name)
        self.registry = registry or SessionRegistry.in_memory()
        self.saved = saved
        self._tools = list(tools) if tools is not None else []
        self._max_model_calls = max_model_calls
        self.thread_id = self.registry.thread_for(self.name)
        self._worker: threading.Thread | None = None

    @property
    def config(self) -> RunnableConfig:
        """The run config of the session's current thread."""
        return agent_config(self.thread_id, max_model_calls=self._max_model_calls)

    def messages(self) -> list[BaseMessage]:
        """Return the conversation so far (user, assistant and tool messages)."""
        self._follow_registry()
        state = self.agent.get_state(self.config)
        return list(state.values.get("messages", [])) if state and state.values else []

    def message_count(self) -> int:
        """Return how many messages the conversation holds."""
        return len(self.messages())

    def tool_descriptions(self) -> list[tuple[str, str]]:
        """Return each tool's name and the first sentence of its description."""
        return [(t.name, first_sentence(t.description or "")) for t in self._tools]

    def reset(self) -> None:
        """Start a new, empty conversation under the same name; the old one is deleted."""
        self.wait()
        with session_lock(self.name, self.registry.path):
            old, self.thread_id = self.registry.renew(self.name)
            checkpointer = getattr(self.agent, "checkpointer", None)
            if old is not None and checkpointer is not None and hasattr(checkpointer, "delete_thread"):
                checkpointer.delete_thread(old)

    def _follow_registry(self) -> None:
        """Move to the thread the registry has for this session now.

        Another process on the same session may have reset it (or deleted it, which
        starts it again): a turn saved on the old thread would be lost.
        """
        current = self.registry.current_thread(self.name)
        self.thread_id = current if current is not None else self.registry.thread_for(self.name)

    def ask(self, text: str) -> str:
        """Run one turn and return the answer."""
        answer = ""
        for event in self.stream(text):
            if isinstance(event, TurnEnd):
                answer = event.answer
        return answer

    @property
    def busy(self) -> bool:
        """Whether a cancelled turn is still finishing its current step in the background."""
        return self._worker is not None and self._worker.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a cancelled turn to stop; returns whether it has."""
        if self._worker is not None:
            self._worker.join(timeout)
        return not self.busy

    def stream(self, text: str) -> Iterator[TextDelta | ToolCallEvent | ToolResultEvent | Notice | TurnEnd]:
        """Run one turn, yielding its events as they happen; the last one is a :class:`TurnEnd`.

        The turn runs in a worker thread, so that stopping the iteration (``close()``, or
        Ctrl-C while waiting for the next event) returns at once. The cancelled turn then
        stops in the background: a model stops at its next token, a tool call not yet
        started is skipped (its result says it was cancelled), a tool already running
        finishes first (Python cannot stop it from outside); the next turn waits for that.
        What the cancelled turn finished stays in the conversation, which stays valid.

        A saved session's turn holds the session's lock from reading the conversation to
        saving the answer: a second process on the same session waits (a :class:`Notice`
        says so) and then answers with the first one's turn in its history.

        Raises:
            InvalidInputError: ``text`` is empty.
        """
        if not text.strip():
            raise InvalidInputError("the message is empty; type a question or a request")
        self.wait()
        events: queue.Queue[Any] = queue.Queue()
        cancel = threading.Event()
        worker = threading.Thread(
            target=self._run_turn, args=(text, events, cancel), name=f"genlab-turn-{self.name}", daemon=True
        )
        self._worker = worker
        worker.start()
        finished = False
        try:
            while True:
                try:
                    item = events.get(timeout=0.1)  # a timeout keeps Ctrl-C responsive everywhere
                except queue.Empty:
                    continue
                if item is _DONE:
                    finished = True
                    return
                if isinstance(item, BaseException):
                    finished = True
                    raise item
                yield item
        finally:
            if not finished:
                cancel.set()

    def _run_turn(self, text: str, events: queue.Queue[Any], cancel: threading.Event) -> None:
        def waiting() -> None:
            events.put(Notice(text=WAITING_MESSAGE.format(name=self.name)))

        try:
            with session_lock(self.name, self.registry.path, cancel=cancel, on_wait=waiting):
                self._follow_registry()
                for event in self._turn_events(text, cancel):
                    events.put(event)
        except TurnCancelled:
            pass  # cancelled while waiting for the lock: nothing ran
        except BaseException as exc:  # handed to the consumer's thread
            events.put(exc)
        finally:
            events.put(_DONE)

    def _turn_events(self, text: str, cancel: threading.Event) -> Iterator[Any]:
        from langgraph.errors import GraphRecursionError

        new_messages: list[Any] = [*self._close_dangling_tool_calls(), HumanMessage(content=text)]
        streamed_in_step = False  # whether the current model call's text came as chunks
        last_text = ""
        stopped = False
        config = self.config
        config["configurable"][CANCEL_KEY] = cancel
        config["callbacks"] = [cancel_on_token(cancel)]
        # A cancelled turn is not broken off here: the agent's cancellation middleware ends
        # it at its next step, so every step it finished is saved and its history stays valid.
        # With a list of modes the graph's generator yields (mode, data) pairs.
        graph_stream = cast(
            "Generator[tuple[str, Any], None, None]",
            self.agent.stream({"messages": new_messages}, config, stream_mode=["messages", "updates"]),
        )
        try:
            for mode, data in graph_stream:
                if mode == "messages":
                    chunk, meta = data
                    if meta.get("langgraph_node") == "model" and isinstance(chunk, (AIMessageChunk, AIMessage)):
                        if chunk.text:
                            streamed_in_step = True
                            yield TextDelta(text=chunk.text)
                    continue
                for node, update in (data or {}).items():
                    for message in _update_messages(update):
                        if isinstance(message, AIMessage):
                            if message.text and not (node == "model" and streamed_in_step):
                                yield TextDelta(text=message.text)
                            if node == "model":
                                streamed_in_step = False
                            stopped = is_step_limit(message)
                            last_text = message.text
                            for call in message.tool_calls:
                                yield ToolCallEvent(name=call["name"], args=call["args"], id=call.get("id"))
                        elif isinstance(message, ToolMessage):
                            yield ToolResultEvent(
                                name=message.name or "",
                                content=message.text,
                                error=message.status == "error",
                                id=message.tool_call_id,
                            )
        except TurnCancelled:
            return  # the model was stopped mid-answer; nothing of that call is saved
        except GraphRecursionError:
            logger.warning("thread %s hit LangGraph's recursion limit", self.thread_id)
            yield TextDelta(text=RECURSION_MESSAGE)
            yield TurnEnd(answer=RECURSION_MESSAGE, stopped=True)
            return
        finally:
            graph_stream.close()
        yield TurnEnd(answer=last_text, stopped=stopped)

    def _close_dangling_tool_calls(self) -> list[Any]:
        """Results for tool calls an interrupted turn left unanswered (chat templates and
        servers reject a history where a tool call has no result)."""
        messages = self.messages()
        answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
        closing = []
        for message in messages:
            if isinstance(message, AIMessage):
                for call in message.tool_calls:
                    if call.get("id") and call["id"] not in answered:
                        closing.append(
                            ToolMessage(content=CANCELLED_TOOL_RESULT, tool_call_id=call["id"], name=call["name"], status="error")
                        )
        return closing


def _update_messages(update: Any) -> list[Any]:
    if not isinstance(update, dict):
        return []
    messages = update.get("messages") or []
    return list(messages) if isinstance(messages, (list, tuple)) else [messages]


def open_chat(
    session: str | None = None,
    *,
    model: BaseChatModel | str | None = None,
    tools: Sequence[BaseTool] | None = None,
    max_model_calls: int = DEFAULT_MAX_MODEL_CALLS,
    generation: dict[str, Any] | None = None,
) -> ChatSession:
    """Open a chat with the course assistant, as ``genlab chat`` does.

    Args:
        session: A name to save the conversation under (in ``$GENLAB_HOME/sessions.sqlite``)
            and resume it by later; ``None`` keeps it in memory for this process only.
        model: The chat model (see :func:`genlab.agents.build_agent`).
        tools: The tools; defaults to :func:`genlab.agents.default_tools`.
        max_model_calls: Model calls a turn may make before it stops.
        generation: Generation settings for a model named by id or configured
            (``max_new_tokens``, ``temperature``, ``seed``...; see :func:`genlab.models.load_chat_model`).

    Raises:
        ModelUnavailableError: No chat model can be loaded.
        InvalidInputError: ``session`` is not a valid name.
    """
    if session is not None:
        check_session_name(session)
    chat_model = resolve_chat_model(model, **(generation or {}))  # first: a missing model is the likeliest problem
    if tools is None:
        tools = default_tools()
    if session is None:
        agent = build_agent(chat_model, tools, max_model_calls=max_model_calls)
        return ChatSession(agent, name="scratch", tools=tools, max_model_calls=max_model_calls)
    agent = build_agent(chat_model, tools, open_checkpointer(), max_model_calls=max_model_calls)
    return ChatSession(
        agent, name=session, registry=SessionRegistry.open(), tools=tools, max_model_calls=max_model_calls, saved=True
    )
