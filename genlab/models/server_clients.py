"""LangChain's server clients, as genlab builds them: one error for a server that fails, and stops.

:func:`genlab.models.backends.load_llm` / ``load_chat_model`` return these subclasses of
``ChatOpenAI``, ``OpenAI``, ``ChatOllama`` and ``OllamaLLM`` for ``openai:`` and ``ollama:``
models. They add two things found on first contact with a real server (``transformers serve``):

- **One error.** A connection refused, a timeout, or an HTTP error (an unknown model, a
  field the server rejects) surfaces from the client libraries as ``openai.APIError``,
  ``httpx.HTTPError`` or ``ollama.ResponseError``, with tracebacks through three packages.
  Every call (``invoke``, ``batch``, ``stream`` and their async twins, hence the agent and
  every chain) maps them here, once, to :func:`~genlab.models.backends.server_unavailable`:
  a :class:`~genlab.errors.ModelUnavailableError` naming the role and the URL, which the CLI
  prints as one line with exit code 2.
- **Stop sequences are cut off.** OpenAI's API leaves the stop sequence out of the text;
  ``transformers serve`` stops at it but returns it (``" positive###"`` for ``stop=["###"]``).
  The text is cut at the first stop sequence on the client, which changes nothing for a
  server that already cut it.

The completions client sends one prompt per request, as a string: ``transformers serve``
answers a list of prompts (what ``OpenAI`` sends for ``invoke`` and ``batch``) with HTTP 400
"prompt must be a string". Streaming with a batch size of 1 (public settings of the client)
sends exactly that.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from functools import cache
from typing import Any

import httpx
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult, Generation, GenerationChunk, LLMResult

from genlab.errors import ModelUnavailableError

#: Characters of a server's error message quoted in ours.
DETAIL_CHARS = 200


def map_server_error(spec: Any, exc: BaseException) -> ModelUnavailableError | None:
    """Return the genlab error for a client library's error, or None for any other exception.

    Args:
        spec: The :class:`~genlab.models.backends.ModelSpec` of the model that was called.
        exc: What the client raised.
    """
    from genlab.models.backends import server_unavailable  # cycle: backends builds these clients

    try:
        import openai
    except ImportError:  # pragma: no cover - only ollama installed
        openai = None  # type: ignore[assignment]
    if openai is not None:
        if isinstance(exc, openai.APITimeoutError):
            return server_unavailable(spec, "the request timed out; GENLAB_REQUEST_TIMEOUT sets the limit")
        if isinstance(exc, openai.APIConnectionError):
            return server_unavailable(spec, "connection failed")
        if isinstance(exc, openai.APIStatusError):
            return server_unavailable(spec, f"HTTP {exc.status_code}: {_detail(exc.body, exc.message)}", refused=True)

    if isinstance(exc, httpx.TimeoutException):
        return server_unavailable(spec, "the request timed out; GENLAB_REQUEST_TIMEOUT sets the limit")
    if isinstance(exc, httpx.HTTPError):
        return server_unavailable(spec, f"{type(exc).__name__}")
    if isinstance(exc, ConnectionError):  # the ollama client's "Failed to connect to Ollama"
        return server_unavailable(spec, "connection failed")
    try:
        from ollama import ResponseError
    except ImportError:
        return None
    if isinstance(exc, ResponseError):
        return server_unavailable(spec, f"HTTP {exc.status_code}: {_detail(exc.error, str(exc))}", refused=True)
    return None


def _detail(body: Any, fallback: str) -> str:
    """The server's own message: FastAPI's ``detail``, OpenAI's ``error.message``, or the text."""
    if isinstance(body, dict):
        error = body.get("error")
        body = body.get("detail") or (error.get("message") if isinstance(error, dict) else error) or body
    text = " ".join(str(body or fallback).split())
    return text[:DETAIL_CHARS] + ("..." if len(text) > DETAIL_CHARS else "")


def cut_at_stop(text: str, stops: list[str] | None) -> str:
    """``text`` up to the first of ``stops`` (all of it when none occurs)."""
    if not stops:
        return text
    ends = [text.find(s) for s in stops if s and s in text]
    return text[: min(ends)] if ends else text


def _stops(stop: list[str] | str | None) -> list[str] | None:
    return [stop] if isinstance(stop, str) else stop


class _ServerModel:
    """Maps client errors to genlab's and cuts stops, around LangChain's documented hooks."""

    def _configured_stops(self) -> list[str] | None:
        return None

    def _raise(self, exc: Exception) -> None:
        spec = getattr(self, "genlab_spec", None)  # a pydantic field of each client class below
        mapped = map_server_error(spec, exc) if spec is not None else None
        if mapped is not None:
            raise mapped from exc
        raise exc

    def _cut(self, result: Any, stop: list[str] | None) -> Any:
        stops = stop or self._configured_stops()
        if not stops:
            return result
        if isinstance(result, ChatResult):
            generations: list[ChatGeneration] = []
            for g in result.generations:
                if isinstance(g.message.content, str):
                    message = g.message.model_copy(update={"content": cut_at_stop(g.message.content, stops)})
                    g = ChatGeneration(message=message, generation_info=g.generation_info)
                generations.append(g)
            return ChatResult(generations=generations, llm_output=result.llm_output)
        return LLMResult(
            generations=[
                [Generation(text=cut_at_stop(g.text, stops), generation_info=g.generation_info) for g in row]
                for row in result.generations
            ],
            llm_output=result.llm_output,
            run=result.run,
        )

    def _generate(self, data: Any, stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any) -> Any:
        try:
            result = super()._generate(data, stop, run_manager, **kwargs)  # type: ignore[misc]
        except Exception as exc:
            self._raise(exc)
        return self._cut(result, stop)

    async def _agenerate(self, data: Any, stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any) -> Any:
        try:
            result = await super()._agenerate(data, stop, run_manager, **kwargs)  # type: ignore[misc]
        except Exception as exc:
            self._raise(exc)
        return self._cut(result, stop)

    def _stream(self, data: Any, stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any) -> Iterator[Any]:
        cutter = _StreamCutter(stop or self._configured_stops())
        try:
            for chunk in super()._stream(data, stop, run_manager, **kwargs):  # type: ignore[misc]
                kept = cutter.feed(chunk)
                if kept is not None:
                    yield kept
                if cutter.done:
                    return
        except Exception as exc:
            self._raise(exc)

    async def _astream(
        self, data: Any, stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        cutter = _StreamCutter(stop or self._configured_stops())
        try:
            async for chunk in super()._astream(data, stop, run_manager, **kwargs):  # type: ignore[misc]
                kept = cutter.feed(chunk)
                if kept is not None:
                    yield kept
                if cutter.done:
                    return
        except Exception as exc:
            self._raise(exc)


class _StreamCutter:
    """Ends a stream at the first stop sequence, even one split across chunks."""

    def __init__(self, stops: list[str] | None) -> None:
        self.stops = [s for s in (stops or []) if s]
        self.seen = ""
        self.done = False

    def feed(self, chunk: Any) -> Any:
        if not self.stops:
            return chunk
        text = chunk.message.content if isinstance(chunk, ChatGenerationChunk) else chunk.text
        if not isinstance(text, str):
            return chunk
        before = len(self.seen)
        self.seen += text
        cut = cut_at_stop(self.seen, self.stops)
        if len(cut) == len(self.seen):
            return chunk
        self.done = True
        kept = cut[before:] if len(cut) > before else ""
        if isinstance(chunk, ChatGenerationChunk):
            message = chunk.message.model_copy(update={"content": kept})
            return ChatGenerationChunk(message=message, generation_info=chunk.generation_info)
        return GenerationChunk(text=kept, generation_info=chunk.generation_info)


@cache
def chat_openai_class() -> type:
    """``ChatOpenAI`` with genlab's errors and stops (imported on first use: openai is heavy)."""
    from langchain_openai import ChatOpenAI

    class ServerChatOpenAI(_ServerModel, ChatOpenAI):  # type: ignore[misc]
        genlab_spec: Any = None

        def _configured_stops(self) -> list[str] | None:
            return _stops(self.stop)

    return ServerChatOpenAI


@cache
def openai_llm_class() -> type:
    """The completions client ``OpenAI`` with genlab's errors and stops, one string prompt a request."""
    from langchain_openai import OpenAI

    class ServerOpenAI(_ServerModel, OpenAI):  # type: ignore[misc]
        genlab_spec: Any = None

        def _configured_stops(self) -> list[str] | None:
            return _stops(self.model_kwargs.get("stop"))

    return ServerOpenAI


@cache
def chat_ollama_class() -> type:
    """``ChatOllama`` with genlab's errors."""
    from langchain_ollama import ChatOllama

    class ServerChatOllama(_ServerModel, ChatOllama):  # type: ignore[misc]
        genlab_spec: Any = None

    return ServerChatOllama


@cache
def ollama_llm_class() -> type:
    """``OllamaLLM`` with genlab's errors."""
    from langchain_ollama import OllamaLLM

    class ServerOllamaLLM(_ServerModel, OllamaLLM):  # type: ignore[misc]
        genlab_spec: Any = None

    return ServerOllamaLLM
