"""A LangChain chat model with tool calling over a local instruct model.

langchain-huggingface's ``ChatHuggingFace`` ignores bound tools with a local pipeline. Here
:class:`ChatLocalModel` renders the conversation with the tokenizer's chat template, passing
the bound tools' JSON schemas as the template's ``tools=``, generates through a
:class:`~genlab.models.llm.LocalLLM`, and parses tool calls out of the answer with
:mod:`genlab.models.tool_calls`. It works with ``bind_tools``, ``with_structured_output``,
streaming, and ``langchain.agents.create_agent``.

Its parts: :mod:`genlab.models.chat_messages` turns messages into the template's dicts;
:mod:`genlab.models.chat_tools` decides what the bound tools mean for one call and streams an
answer while holding back what may be a tool call.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Generator, Iterator, Sequence
from typing import Any, Literal

from jinja2.exceptions import TemplateError
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, BaseLLM, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolCall
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, model_validator

from genlab.errors import InvalidInputError, ModelUnavailableError
from genlab.models.chat_messages import message_text, to_chat_messages
from genlab.models.chat_tools import AnswerStream, ToolPlan, context_advice, plan_tools
from genlab.models.generation import GENERATION_KEYS, GenerationInfo
from genlab.models.llm import LocalLLM, as_prompt_value
from genlab.models.template_limits import max_tool_calls, one_call_per_message
from genlab.models.tool_calls import (
    MARKER_TOKENS,
    ParsedOutput,
    complete_call_end,
    parse_tool_calls,
    parse_with_tokenizer,
    tool_call_chunks,
)
from genlab.settings import get_settings

__all__ = ["ChatLocalModel", "message_text", "to_chat_messages"]

logger = logging.getLogger(__name__)

#: Bound keyword arguments that other providers take and a local model has no use for.
_IGNORED_KWARGS = ("strict",)
#: Generation settings reported to tracing, by their LangSmith names.
_LS_SETTINGS: tuple[tuple[str, Literal["ls_max_tokens", "ls_temperature"]], ...] = (
    ("max_new_tokens", "ls_max_tokens"),
    ("temperature", "ls_temperature"),
)
#: Constructor arguments that configure the underlying :class:`LocalLLM`.
_LLM_FIELDS = ("pipeline", "model", "model_id", "role", "stop", "batch_size", *GENERATION_KEYS)


class ChatLocalModel(BaseChatModel):
    """A local instruct model as a LangChain chat model with tool calling.

    Build it with :func:`load_chat_model`, or directly: ``ChatLocalModel()`` (the configured
    chat model), ``ChatLocalModel(model="Qwen/Qwen2.5-1.5B-Instruct", max_new_tokens=200)``,
    ``ChatLocalModel(pipeline=pipe)``, or ``ChatLocalModel(llm=some_llm, tokenizer=tok)``.
    Nothing loads until the first call.

    ``bind_tools`` renders the tools' JSON schemas through the chat template's ``tools=``;
    tool calls in the Hermes / Qwen (``<tool_call>``) and Llama 3.1 (JSON) formats come back
    as ``AIMessage.tool_calls``. ``tool_choice`` is honoured loosely: ``"none"`` hides the
    tools; a tool name renders only that tool; with a Hermes-style template, a forced choice
    (a name, ``"any"``, ``"required"``) starts the answer with ``<tool_call>`` for the model.

    Example:
        ```python
        from langchain_core.tools import tool
        from genlab.models import load_chat_model

        @tool
        def get_weather(city: str) -> str:
            \"\"\"Return the weather in a city.\"\"\"
            return "sunny"

        chat = load_chat_model(max_new_tokens=128).bind_tools([get_weather])
        chat.invoke("What is the weather in Paris?").tool_calls
        ```
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    llm: BaseLLM
    """Generates the answer from the rendered prompt; a :class:`LocalLLM` for local models."""
    tokenizer: Any = None
    """Tokenizer whose chat template renders the messages; defaults to the LLM's own."""

    @model_validator(mode="before")
    @classmethod
    def _build_llm(cls, values: Any) -> Any:
        """Build the :class:`LocalLLM` (role ``chat``) from flat arguments when no ``llm`` is given."""
        if not isinstance(values, dict) or values.get("llm") is not None:
            return values
        values = dict(values)
        llm_args = {key: values.pop(key) for key in _LLM_FIELDS if key in values}
        llm_args.setdefault("role", "chat")
        values["llm"] = LocalLLM(**llm_args)
        return values

    @property
    def _llm_type(self) -> str:
        return "genlab-local-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"llm": dict(self.llm._identifying_params)}

    @property
    def model_id(self) -> str | None:
        """The model's hub id or folder: the LLM's, else the one configured for its role."""
        model_id = getattr(self.llm, "model_id", None)
        if model_id is None and isinstance(self.llm, LocalLLM):
            model_id = get_settings().model_for(self.llm.role)
        return model_id

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        # LangChain's documented hook for tracing metadata (the standard tests check it).
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "genlab"
        params["ls_model_name"] = str(self.model_id or "")
        for key, name in _LS_SETTINGS:
            value = kwargs.get(key, getattr(self.llm, key, None))
            if value is not None:
                params[name] = value
        return params

    def get_tokenizer(self) -> Any:
        """Return the tokenizer that renders prompts (loads the model on first use).

        Raises:
            InvalidInputError: The LLM is not a :class:`LocalLLM` and no tokenizer was given.
        """
        if self.tokenizer is not None:
            return self.tokenizer
        if isinstance(self.llm, LocalLLM):
            return self.llm.tokenizer
        raise InvalidInputError(f"ChatLocalModel over a {type(self.llm).__name__} needs tokenizer= to render prompts")

    def render(
        self,
        messages: LanguageModelInput,
        tools: Sequence[dict[str, Any] | type | Any] | None = None,
        tool_choice: Any = None,
    ) -> str:
        """Return the prompt text the model sees for ``messages`` (and tools), for inspection.

        Raises:
            ModelUnavailableError: The tokenizer has no chat template (a base model).
            InvalidInputError: The template refuses the messages (e.g. roles not alternating).
        """
        schemas = [convert_to_openai_tool(t) for t in tools or []]
        plan = plan_tools(schemas, tool_choice)
        prompt, prefill = self._prompt(as_prompt_value(messages).to_messages(), plan)
        return prompt + prefill

    def get_token_ids(self, text: str) -> list[int]:
        """The model's own token ids for ``text`` (no special tokens added); loads the model."""
        return list(self.get_tokenizer()(text, add_special_tokens=False)["input_ids"])

    def get_num_tokens_from_messages(self, messages: list[BaseMessage], tools: Sequence[Any] | None = None) -> int:
        """Tokens of ``messages`` (and ``tools``) as the chat template renders them for the model."""
        schemas = [convert_to_openai_tool(t) for t in tools or []]
        prompt, _ = self._prompt(list(messages), plan_tools(schemas, None), add_generation_prompt=False)
        return len(self.get_tokenizer()(prompt, add_special_tokens=False)["input_ids"])

    def _prompt(self, messages: list[BaseMessage], plan: ToolPlan, add_generation_prompt: bool = True) -> tuple[str, str]:
        """Render ``messages``; return the prompt and the text the answer is started with."""
        tokenizer = self.get_tokenizer()
        template = getattr(tokenizer, "chat_template", None)
        if not template:
            raise ModelUnavailableError(
                getattr(self.llm, "role", "chat"),
                str(self.model_id or "the configured model"),
                "its tokenizer has no chat template (a base model, not an instruct model)",
                want="an instruct model such as Qwen/Qwen2.5-1.5B-Instruct",
            )
        if plan.schemas and "tools" not in str(template):
            logger.warning("the chat template of %s does not render tools; the model will not see them", self.model_id)
        if max_tool_calls(tokenizer) == 1:
            # Llama 3.1's template raises on an answer with several calls: render each call
            # as its own answer, followed by its result.
            messages = one_call_per_message(messages)
        try:
            prompt = tokenizer.apply_chat_template(
                to_chat_messages(messages),
                tools=plan.schemas or None,
                add_generation_prompt=add_generation_prompt,
                tokenize=False,
            )
        except TemplateError as exc:
            raise InvalidInputError(f"the chat template cannot render these messages: {exc}") from exc
        prefill = ""
        if plan.forced and "<tool_call>" in prompt:
            # A Hermes-style template: opening the answer with the call tag makes even a small
            # model answer with a call when one is required.
            prefill = "<tool_call>\n"
            if isinstance(plan.forced, str):
                prefill += '{"name": ' + json.dumps(plan.forced) + ', "arguments": '
        return prompt, prefill

    def _split_kwargs(self, kwargs: dict[str, Any]) -> tuple[ToolPlan, dict[str, Any]]:
        kwargs = dict(kwargs)
        plan = plan_tools(kwargs.pop("tools", None), kwargs.pop("tool_choice", None))
        parallel = kwargs.pop("parallel_tool_calls", None)
        for key in _IGNORED_KWARGS:
            kwargs.pop(key, None)
        if plan.names:
            limit = max_tool_calls(self.get_tokenizer()) if self.tokenizer is not None or isinstance(self.llm, LocalLLM) else None
            plan.max_calls = 1 if parallel is False else limit
        return plan, kwargs

    def _complete_stream(self, prompt: str, stop: list[str] | None, overrides: dict[str, Any]) -> Iterator[str | GenerationInfo]:
        if isinstance(self.llm, LocalLLM):
            return self.llm.complete_stream(prompt, stop, add_special_tokens=False, keep_special=MARKER_TOKENS, **overrides)
        # The chat model's run already reports this generation: the inner LLM runs untraced.
        return self.llm.stream(prompt, stop=stop, **overrides)

    def _parse(self, text: str, plan: ToolPlan, prompt: str) -> tuple[str, list[ToolCall]]:
        """Split an answer into content and tool calls: the tokenizer's parser first, then genlab's."""
        if not plan.names:
            return text.strip(), []
        parsed: ParsedOutput | None = None
        if isinstance(self.llm, LocalLLM) or self.tokenizer is not None:
            parsed = parse_with_tokenizer(self.get_tokenizer(), text, prompt, plan.schemas, plan.names)
        if parsed is None:
            parsed = parse_tool_calls(text, plan.names)
        calls = parsed.tool_calls
        if plan.max_calls is not None and len(calls) > plan.max_calls:
            dropped = len(calls) - plan.max_calls
            logger.info("the chat template takes %d tool call(s) per answer; dropping %d", plan.max_calls, dropped)
            calls = calls[: plan.max_calls]
        return parsed.content, calls

    def _metadata(self, info: GenerationInfo | None, calls: list[ToolCall]) -> dict[str, Any]:
        metadata: dict[str, Any] = {"model_name": self.model_id, "model_provider": "genlab"}
        if info is not None:
            metadata["finish_reason"] = "tool_calls" if calls else info.finish_reason
        return metadata

    @staticmethod
    def _usage(info: GenerationInfo | None) -> UsageMetadata | None:
        if info is None:
            return None
        return UsageMetadata(
            input_tokens=info.input_tokens,
            output_tokens=info.output_tokens,
            total_tokens=info.input_tokens + info.output_tokens,
        )

    def _answer(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> Generator[str, None, tuple[str, list[ToolCall], GenerationInfo | None]]:
        """Generate one answer: yield each piece of content to show; return the rest, the calls and how it ended.

        ``invoke`` and ``stream`` both run this, so their answers cannot differ. With tools
        bound, generation stops as soon as the answer's tool calls are complete and something
        other than another call follows (:func:`complete_call_end`): a small model that
        repeats a call or rambles on after it costs a few tokens, not its token limit.
        """
        plan, overrides = self._split_kwargs(kwargs)
        prompt, prefill = self._prompt(messages, plan)
        answer = AnswerStream(plan.names, prefill, lambda text: self._parse(text, plan, prompt + prefill))
        info: GenerationInfo | None = None
        pieces = self._complete_stream(prompt + prefill, stop, overrides)
        try:
            # A too-long conversation is re-raised with advice a chat user can act on.
            with context_advice(plan):
                for delta in pieces:
                    if isinstance(delta, GenerationInfo):
                        info = delta
                        break
                    shown = answer.feed(delta)
                    if shown:
                        yield shown
                    if plan.names and answer.buffering:
                        end = complete_call_end(answer.full, plan.names)
                        if end is not None:
                            answer.full = answer.full[:end]
                            break
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()  # a stream left early stops its generation thread
        rest, calls = answer.finish()
        return rest, calls, info

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        answer = self._answer(messages, stop, kwargs)
        shown: list[str] = []
        while True:
            try:
                shown.append(next(answer))
            except StopIteration as done:
                rest, calls, info = done.value
                break
        message = AIMessage(
            content="".join(shown) + rest,
            tool_calls=calls,
            response_metadata=self._metadata(info, calls),
            usage_metadata=self._usage(info),
        )
        return ChatResult(generations=[ChatGeneration(message=message, generation_info=info.model_dump() if info else None)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        answer = self._answer(messages, stop, kwargs)
        while True:
            try:
                shown = next(answer)
            except StopIteration as done:
                rest, calls, info = done.value
                break
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=shown))
            if run_manager is not None:
                run_manager.on_llm_new_token(shown, chunk=chunk)
            yield chunk
        last = ChatGenerationChunk(
            message=AIMessageChunk(
                content=rest,
                tool_call_chunks=tool_call_chunks(calls),
                chunk_position="last",
                response_metadata=self._metadata(info, calls),
                usage_metadata=self._usage(info),
            ),
            generation_info=info.model_dump() if info else None,
        )
        if run_manager is not None:
            run_manager.on_llm_new_token(rest, chunk=last)
        yield last

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Any | BaseTool],
        *,
        tool_choice: dict[str, Any] | str | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools: their JSON schemas are rendered into every prompt, their calls parsed.

        Args:
            tools: LangChain tools, pydantic models, functions or OpenAI-style tool dicts
                (anything :func:`~langchain_core.utils.function_calling.convert_to_openai_tool` takes).
            tool_choice: ``"auto"`` / ``None`` (the model decides), ``"none"``, ``"any"`` /
                ``"required"`` / ``True``, a tool's name, or
                ``{"type": "function", "function": {"name": ...}}``.
            **kwargs: Further arguments bound to each call (generation settings, ``stop``).

        Raises:
            InvalidInputError: ``tool_choice`` names no bound tool.
        """
        schemas = [convert_to_openai_tool(tool) for tool in tools]
        plan_tools(schemas, tool_choice)  # fail now, not at the first call
        return super().bind(tools=schemas, tool_choice=tool_choice, **kwargs)
