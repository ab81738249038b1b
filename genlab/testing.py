"""A scripted chat model for testing agents without model weights.

LangChain's fake chat models have no ``bind_tools`` (``create_agent`` refuses them) and
``GenericFakeChatModel`` drops tool calls when it streams. :class:`ScriptedChatModel` fixes
both: it binds any tools, answers from a script, and streams its text word by word followed
by its tool calls, the way a real tool-calling model does. It is public so that tests of
extensions (custom tools, another chat model behind ``GENLAB_CHAT_FACTORY``) can drive the
real agent with it.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field, PrivateAttr

from genlab.models.tool_calls import tool_call_chunks


def tool_call_message(name: str, **args: Any) -> AIMessage:
    """Return an AI message that calls tool ``name`` with ``args`` (a step of a script)."""
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}"}])


def last_tool_result(messages: list[BaseMessage]) -> str:
    """Return the content of the most recent tool message (empty when there is none)."""
    for message in reversed(messages):
        if isinstance(message, ToolMessage):
            return message.text
    return ""


class ScriptedChatModel(BaseChatModel):
    """A chat model that replies from a script and accepts ``bind_tools``.

    Each call takes the next step of :attr:`script`; a step is a reply (an ``AIMessage``,
    possibly with ``tool_calls``, or a string) or a function of the conversation that
    returns one. Functions make replies depend on what the tools returned, and are safe to
    share between concurrent sessions.

    Example:
        >>> model = ScriptedChatModel(script=[tool_call_message("search_course", query="GANs"),
        ...                                   lambda msgs: "Found: " + last_tool_result(msgs)])
    """

    script: list[Any] = Field(default_factory=list)
    """The replies, in order: ``AIMessage``s, strings, or functions of the conversation returning one."""
    cycle: bool = False
    """Start the script again when it runs out (otherwise running out raises ``IndexError``)."""
    delay: float = 0.0
    """Seconds to wait before each streamed word: makes a turn slow enough to interrupt."""

    _position: int = PrivateAttr(default=0)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _seen: list[list[BaseMessage]] = PrivateAttr(default_factory=list)
    _bound: list[str] = PrivateAttr(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "genlab-scripted-chat"

    @property
    def calls(self) -> list[list[BaseMessage]]:
        """The conversations the model was called with, in order."""
        return list(self._seen)

    @property
    def bound_tool_names(self) -> list[str]:
        """Names of the tools passed to the last ``bind_tools`` call."""
        return list(self._bound)

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: str | None = None, **kwargs: Any) -> ScriptedChatModel:
        """Record the tools' names and return the model itself: the script decides the calls."""
        self._bound = [convert_to_openai_tool(t)["function"]["name"] for t in tools]
        return self

    def _next_reply(self, messages: list[BaseMessage]) -> AIMessage:
        with self._lock:
            if self._position >= len(self.script):
                if not self.cycle or not self.script:
                    raise IndexError(f"the script has {len(self.script)} steps and all were used")
                self._position = 0
            step = self.script[self._position]
            self._position += 1
            self._seen.append(list(messages))
        reply = step(list(messages)) if callable(step) else step
        if isinstance(reply, str):
            reply = AIMessage(content=reply)
        # A fresh id per reply: a scripted message reused by ``cycle`` must not replace an
        # earlier one in the agent's history (add_messages merges equal ids).
        return reply.model_copy(update={"id": f"run-{uuid.uuid4().hex[:12]}"})

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._next_reply(messages))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        reply = self._next_reply(messages)
        for word in _split_words(reply.text):
            if self.delay:
                time.sleep(self.delay)
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=word, id=reply.id))
            if run_manager:
                run_manager.on_llm_new_token(word, chunk=chunk)
            yield chunk
        if reply.tool_calls:
            chunks = tool_call_chunks(reply.tool_calls)
            chunk = ChatGenerationChunk(message=AIMessageChunk(content="", id=reply.id, tool_call_chunks=chunks))
            if run_manager:
                run_manager.on_llm_new_token("", chunk=chunk)
            yield chunk


def _split_words(text: str) -> list[str]:
    """Split ``text`` into words that keep their trailing whitespace (joining gives ``text``)."""
    return re.findall(r"\S+\s*|\s+", text)
