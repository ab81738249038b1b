"""The course assistant: a LangChain tool-calling agent over genlab's tools.

:func:`build_agent` returns LangChain's ``create_agent`` graph with three additions that
make one bad turn harmless:

- a tool that raises hands its error back to the model as an error tool message, and the
  turn goes on (LangGraph's default re-raises everything but argument-validation errors);
- a turn stops after :data:`DEFAULT_MAX_MODEL_CALLS` model calls with a clear message in
  the conversation, instead of LangGraph's default of ten thousand steps;
- a turn whose run config carries a set cancel event (:data:`CANCEL_KEY`) ends at its next
  step, skipping the tools it had not started, so what it finished is saved whole;
- a checkpointer keeps each conversation (thread) apart; :func:`agent_config` builds the
  run config for a thread.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import ToolException
from langgraph.checkpoint.memory import InMemorySaver

from genlab.agents.chat_model import resolve_chat_model
from genlab.agents.guards import repeat_guard
from genlab.agents.history import history_trimmer
from genlab.agents.prompts import SYSTEM_PROMPT
from genlab.agents.toolset import default_tools
from genlab.errors import GenlabError, InvalidInputError, TurnCancelled

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import RunnableConfig
    from langchain_core.tools import BaseTool
    from langgraph.graph.state import CompiledStateGraph
    from langgraph.types import Checkpointer

    from genlab.settings import Settings

logger = logging.getLogger(__name__)

#: Model calls one turn may make before it is stopped (each tool round is one call).
DEFAULT_MAX_MODEL_CALLS = 8

#: ``response_metadata`` of the message that ends a turn at the step limit: readers of the
#: stream recognise it by this mark, not by a graph node name LangChain may change.
STEP_LIMIT_METADATA = {"genlab_stop_reason": "step_limit"}

#: ``configurable`` key of a ``threading.Event`` that cancels a running turn (see :class:`TurnCancelled`).
CANCEL_KEY = "genlab_cancel"

CANCELLED_TOOL_RESULT = "Cancelled: the learner interrupted the turn before this tool finished."

STEP_LIMIT_MESSAGE = (
    "I stopped after {limit} steps without reaching an answer (the tools kept being called). "
    "Please ask again, more specifically, or break the request into smaller ones."
)


def build_agent(
    model: BaseChatModel | str | None = None,
    tools: Sequence[BaseTool] | None = None,
    checkpointer: Checkpointer | None = None,
    *,
    system_prompt: str = SYSTEM_PROMPT,
    max_model_calls: int = DEFAULT_MAX_MODEL_CALLS,
    settings: Settings | None = None,
) -> CompiledStateGraph:
    """Build the course assistant.

    Building loads no model weights: each tool loads its model on first use.

    Args:
        model: A LangChain chat model that supports ``bind_tools`` (for example
            ``ChatOpenAI(base_url="http://localhost:8000/v1", api_key="EMPTY", model=...)``
            for a vLLM or TGI server), a hub id or folder of a local model, or ``None`` for
            the configured local chat model (``GENLAB_CHAT_MODEL``, or the factory named by
            ``GENLAB_CHAT_FACTORY``).
        tools: The tools to offer; defaults to :func:`genlab.agents.default_tools`.
        checkpointer: Where conversations are kept, one per ``thread_id``; defaults to an
            in-memory saver. Use :func:`genlab.agents.open_checkpointer` for a SQLite file.
        system_prompt: The instructions the model gets before every conversation.
        max_model_calls: Model calls a turn may make before it stops with a message.
        settings: Settings for the default model and tools.

    Returns:
        A compiled LangGraph graph. Run it with a thread, e.g.
        ``agent.invoke({"messages": [("user", "hi")]}, agent_config("my-thread"))``.

    Raises:
        ModelUnavailableError: ``model`` is ``None`` or a model id and no chat model can be
            loaded for it.
        InvalidInputError: ``max_model_calls`` is below 1.
    """
    from langchain.agents import create_agent
    from langchain.agents.middleware import ToolErrorMiddleware

    if max_model_calls < 1:
        raise InvalidInputError(f"max_model_calls must be at least 1, got {max_model_calls}")
    chat_model = resolve_chat_model(model, settings=settings)
    if tools is None:
        tools = default_tools(settings)
    if checkpointer is None:
        checkpointer = InMemorySaver()
    middleware = [ToolErrorMiddleware(on_error=tool_error_content), _step_limit(max_model_calls), _cancellation()]
    middleware.append(history_trimmer())  # long chats: the newest whole turns that fit the context
    middleware.append(repeat_guard())
    return create_agent(
        chat_model,
        list(tools),
        system_prompt=system_prompt,
        middleware=middleware,
        checkpointer=checkpointer,
        name="genlab-assistant",
    )


def agent_config(thread_id: str, *, max_model_calls: int = DEFAULT_MAX_MODEL_CALLS, **configurable: Any) -> RunnableConfig:
    """Return the run config for one conversation of an agent from :func:`build_agent`.

    Args:
        thread_id: The conversation; every thread has its own memory.
        max_model_calls: Used to set LangGraph's ``recursion_limit`` as a backstop
            well above the agent's own step limit.
        **configurable: More ``configurable`` entries (checkpoint namespace, ...).
    """
    # Each model call is at most four graph steps (limit check, model, call counter, tools).
    return {"configurable": {"thread_id": thread_id, **configurable}, "recursion_limit": 4 * max_model_calls + 10}


def tool_error_content(exc: Exception, request: Any) -> str:
    """Turn an exception raised by a tool into the text of an error tool message.

    Errors genlab raises on purpose (bad input, an unavailable model) and ``ToolException``
    carry a message meant for the reader; anything else is named by its type and logged.
    """
    name = request.tool_call["name"]
    if isinstance(exc, TurnCancelled):
        return CANCELLED_TOOL_RESULT
    if isinstance(exc, (GenlabError, ToolException)):
        detail = str(exc)
    else:
        logger.debug("tool %s failed", name, exc_info=exc)
        detail = f"{type(exc).__name__}: {exc}"
    return f"Error: {name} failed: {detail}"


def is_step_limit(message: Any) -> bool:
    """Whether ``message`` is the one that ended a turn at the step limit."""
    metadata = getattr(message, "response_metadata", None) or {}
    return all(metadata.get(k) == v for k, v in STEP_LIMIT_METADATA.items())


def _step_limit(limit: int) -> Any:
    from langchain.agents.middleware import ModelCallLimitMiddleware

    class StepLimit(ModelCallLimitMiddleware):
        """LangChain's run limit on model calls, ending the turn with a message a learner understands."""

        def before_model(self, state: Any, runtime: Any) -> dict[str, Any] | None:
            update = super().before_model(state, runtime)
            if update is not None:
                update["messages"] = [
                    AIMessage(content=STEP_LIMIT_MESSAGE.format(limit=limit), response_metadata=dict(STEP_LIMIT_METADATA))
                ]
            return update

    return StepLimit(run_limit=limit, exit_behavior="end")


def is_cancelled(config: Any) -> bool:
    """Return whether the run config carries a cancel event that is set."""
    event = ((config or {}).get("configurable") or {}).get(CANCEL_KEY)
    return bool(event is not None and event.is_set())


def cancel_on_token(event: Any) -> Any:
    """A callback handler that stops a model's generation at the next token once ``event`` is set."""

    class CancelOnToken(BaseCallbackHandler):
        raise_error: bool = True  # an exception here must stop the model, not be logged

        def on_llm_new_token(self, token: str | list[str | dict[str, Any]], **kwargs: Any) -> None:
            if event.is_set():
                raise TurnCancelled("the turn was cancelled")

    _quiet_cancellation(CancelOnToken.__name__)
    return CancelOnToken()


class _DropCancellationWarning(logging.Filter):
    """Drops LangChain's "Error in CancelOnToken.on_llm_new_token callback" warning.

    LangChain logs a warning for every exception a callback raises, even one the handler
    raises on purpose (``raise_error``); a cancelled turn is not an error, and the line
    would land in the middle of the REPL.
    """

    def __init__(self, handler_name: str) -> None:
        super().__init__()
        self.handler_name = handler_name

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not (len(args) >= 2 and args[0] == self.handler_name and args[1] == "on_llm_new_token")


def _quiet_cancellation(handler_name: str) -> None:
    callbacks_logger = logging.getLogger("langchain_core.callbacks.manager")
    if not any(isinstance(f, _DropCancellationWarning) for f in callbacks_logger.filters):
        callbacks_logger.addFilter(_DropCancellationWarning(handler_name))


def _cancellation() -> Any:
    from langchain.agents.middleware import AgentMiddleware, hook_config
    from langgraph.config import get_config

    def cancelled_result(request: Any) -> ToolMessage:
        call = request.tool_call
        return ToolMessage(content=CANCELLED_TOOL_RESULT, tool_call_id=call["id"], name=call["name"], status="error")

    class Cancellation(AgentMiddleware):
        """Ends a cancelled turn at its next step, so its history is saved whole and valid."""

        @hook_config(can_jump_to=["end"])
        def before_model(self, state: Any, runtime: Any) -> dict[str, Any] | None:
            return {"jump_to": "end"} if is_cancelled(get_config()) else None

        @hook_config(can_jump_to=["end"])
        async def abefore_model(self, state: Any, runtime: Any) -> dict[str, Any] | None:
            return self.before_model(state, runtime)

        def wrap_tool_call(self, request: Any, handler: Any) -> Any:
            if is_cancelled(request.runtime.config):
                return cancelled_result(request)
            return handler(request)

        async def awrap_tool_call(self, request: Any, handler: Any) -> Any:
            if is_cancelled(request.runtime.config):
                return cancelled_result(request)
            return await handler(request)

    return Cancellation()
