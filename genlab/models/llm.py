"""A LangChain LLM over a local text-generation model: :class:`LocalLLM` and :func:`load_llm`.

It extends langchain-huggingface's :class:`~langchain_huggingface.HuggingFacePipeline` (same
fields, same ``from_model_id`` and prebuilt-pipeline constructors) where that class falls
short: it returns only the new text, honours ``stop`` sequences of any length in ``invoke``,
``batch`` and ``stream`` (streaming stops generating), batches prompts into real tensor
batches, streams token by token, takes generation settings with a seed, and loads its model
through the shared runtime on first use rather than at construction.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import convert_to_messages
from langchain_core.outputs import Generation, GenerationChunk, LLMResult
from langchain_core.prompt_values import ChatPromptValue, PromptValue, StringPromptValue
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import get_config_list
from langchain_huggingface import HuggingFacePipeline
from pydantic import Field, field_validator, model_validator

from genlab.errors import InvalidInputError
from genlab.models.generation import (
    GENERATION_KEYS,
    Generated,
    GenerationInfo,
    check_generation,
    generate,
    plan_rows,
)
from genlab.models.runtime import get_model
from genlab.models.streaming import stream_text
from genlab.settings import ROLES, Settings

#: Per-call keyword arguments ``invoke`` / ``batch`` / ``stream`` accept besides ``stop``.
CALL_KEYS = (*GENERATION_KEYS, "batch_size")


def as_prompt_value(value: LanguageModelInput) -> PromptValue:
    """Turn what ``invoke`` takes (a string, messages, a prompt value) into a prompt value.

    Raises:
        InvalidInputError: Anything else.
    """
    if isinstance(value, PromptValue):
        return value
    if isinstance(value, str):
        return StringPromptValue(text=value)
    if isinstance(value, Sequence):
        return ChatPromptValue(messages=convert_to_messages(value))
    raise InvalidInputError(f"a model input must be a string, a list of messages or a PromptValue, got {type(value).__name__}")


def token_usage(infos: Sequence[GenerationInfo]) -> dict[str, int]:
    """LangChain's ``llm_output["token_usage"]`` (OpenAI's names) for some generations."""
    prompt = sum(i.input_tokens for i in infos)
    completion = sum(i.output_tokens for i in infos)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


class LocalLLM(HuggingFacePipeline):
    """A local causal language model as a LangChain LLM.

    Give it a prebuilt transformers ``text-generation`` pipeline (``LocalLLM(pipeline=pipe)``),
    or a ``role`` and optional ``model_id`` (also accepted as ``model``) that the shared
    runtime resolves and loads on first use: constructing one loads nothing.

    Generation settings set here are defaults; each call may override them
    (``llm.invoke(prompt, max_new_tokens=20, seed=1)``). ``None`` leaves a setting to the
    model's own ``generation_config``.

    Example:
        ```python
        from genlab.models import load_llm

        llm = load_llm(max_new_tokens=40, stop=["\\n\\n"])
        llm.invoke("Write a haiku about rain:")
        llm.batch(["Once upon a time", "The capital of France is"])  # one tensor batch
        for piece in llm.stream("Tell me a story"):
            print(piece, end="")
        ```
    """

    role: str = "text"
    """The runtime role whose configured model is loaded when no ``pipeline`` is given."""
    batch_size: int = 8
    """Prompts per tensor batch in ``batch`` (one ``model.generate`` call per chunk)."""
    max_new_tokens: int | None = None
    """Most tokens generated per prompt. ``None``: ``pipeline_kwargs["max_new_tokens"]`` if
    given, else :data:`~genlab.models.generation.DEFAULT_MAX_NEW_TOKENS` or what room the
    model's context leaves after the prompt, whichever is less."""
    temperature: float | None = None
    """Sampling temperature; a positive value turns sampling on, ``0`` means greedy."""
    top_p: float | None = None
    """Nucleus sampling: keep the smallest set of tokens whose probability reaches ``top_p``."""
    top_k: int | None = None
    """Sample among the ``top_k`` most likely tokens only."""
    do_sample: bool | None = None
    """Sample (``True``) or decode greedily (``False``); ``None``: the model's default, or
    sampling when ``temperature`` is positive."""
    repetition_penalty: float | None = None
    """Above 1 discourages repeating tokens already in the text."""
    seed: int | None = None
    """Seed for sampling: the same seed, prompt and settings give the same output."""
    stop: list[str] | None = None
    """Stop sequences used on every call, besides those passed to the call."""
    settings: Settings | None = Field(default=None, exclude=True)
    """Settings that choose the model, device and dtype; ``None``: the process-wide ones."""

    @model_validator(mode="before")
    @classmethod
    def pre_init_validator(cls, values: Any) -> Any:
        """Accept ``model`` for ``model_id``; name a prebuilt pipeline after its model.

        Overrides the parent's validator, which would default ``model_id`` to ``"gpt2"``.
        """
        if not isinstance(values, dict):
            return values
        values = dict(values)
        if "model" in values:
            model = values.pop("model")
            if values.get("model_id") not in (None, model):
                raise InvalidInputError("pass the model as model= or model_id=, not both")
            values["model_id"] = model
        pipeline = values.get("pipeline")
        if values.get("model_id") is None and pipeline is not None:
            values["model_id"] = getattr(getattr(pipeline, "model", None), "name_or_path", None)
        return values

    @field_validator("stop", mode="before")
    @classmethod
    def _one_stop_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check_settings(self) -> LocalLLM:
        if self.role not in ROLES:
            raise InvalidInputError(f"unknown role {self.role!r}; roles are: {', '.join(ROLES)}")
        if self.batch_size < 1:
            raise InvalidInputError(f"batch_size must be an integer >= 1, got {self.batch_size!r}")
        check_generation(self._default_settings())
        return self

    @property
    def _llm_type(self) -> str:
        return "genlab-local-llm"

    @property
    def _identifying_params(self) -> Mapping[str, Any]:
        # The stop field changes the text: LangChain's cache must not give a stopped LLM's call
        # the answer of an unstopped one. Not under "stop": LangChain overwrites that key with
        # the call's own stop when it builds the cache key.
        return {"model_id": self.model_id, "role": self.role, "default_stop": self.stop, **self._default_settings()}

    def get_pipeline(self) -> Any:
        """Return the transformers pipeline, loading it through the runtime on first use.

        The runtime's pipeline is looked up on each call rather than kept here, so the
        runtime stays free to unload it under its memory budget.

        Raises:
            ModelUnavailableError: The model for ``role`` / ``model_id`` cannot be loaded.
        """
        if self.pipeline is not None:
            return self.pipeline

        return get_model(self.role, self.model_id, settings=self.settings)

    @property
    def tokenizer(self) -> Any:
        """The pipeline's tokenizer (loads the model on first use)."""
        return self.get_pipeline().tokenizer

    def get_token_ids(self, text: str) -> list[int]:
        """The model's own token ids for ``text`` (no special tokens added); loads the model."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _default_settings(self) -> dict[str, Any]:
        settings = {k: v for k, v in (self.pipeline_kwargs or {}).items() if k != "return_full_text"}
        settings.update({key: getattr(self, key) for key in GENERATION_KEYS if getattr(self, key) is not None})
        return settings

    def _call_settings(self, overrides: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
        unknown = sorted(set(overrides) - set(CALL_KEYS))
        if unknown:
            raise InvalidInputError(
                f"unknown argument(s) {', '.join(map(repr, unknown))} for a local LLM call; allowed: stop, {', '.join(CALL_KEYS)}"
            )
        overrides = dict(overrides)
        batch_size = overrides.pop("batch_size", None) or self.batch_size
        overrides = {k: v for k, v in overrides.items() if v is not None}
        defaults = self._default_settings()
        if "temperature" in overrides and "do_sample" not in overrides:
            # A call's temperature decides sampling (0: greedy, > 0: sample), whatever the default.
            defaults.pop("do_sample", None)
        return {**defaults, **overrides}, batch_size

    def _stops(self, stop: list[str] | None) -> list[str]:
        stops = [*(self.stop or []), *(stop or [])]
        if any(not isinstance(s, str) for s in stops):
            raise InvalidInputError("stop must be a list of strings")
        return list(dict.fromkeys(s for s in stops if s))

    def complete(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        *,
        add_special_tokens: bool = True,
        keep_special: Collection[str] = (),
        **overrides: Any,
    ) -> list[Generated | InvalidInputError]:
        """Generate the new text for each prompt, without LangChain callbacks.

        ``_generate`` (behind ``invoke`` and ``batch``) and the chat model call this.

        Args:
            prompts: The prompts.
            stop: Stop sequences, besides the ``stop`` field's.
            add_special_tokens: ``False`` for prompts rendered by a chat template.
            keep_special: Special tokens to keep in the output (tool-call markers).
            **overrides: Generation settings and ``batch_size`` for this call.

        Returns:
            For each prompt its text and :class:`~genlab.models.generation.GenerationInfo`, or
            its own error (an empty or over-long prompt).
        """
        settings, batch_size = self._call_settings(overrides)
        pipe = self.get_pipeline()
        return generate(
            pipe.model,
            pipe.tokenizer,
            prompts,
            settings,
            stop=self._stops(stop),
            batch_size=batch_size,
            add_special_tokens=add_special_tokens,
            keep_special=keep_special,
        )

    def prompt_errors(
        self, prompts: Sequence[str], *, add_special_tokens: bool = True, **overrides: Any
    ) -> list[Exception | None]:
        """Each prompt's own error (empty, or too long for the context), or ``None``; generates nothing."""
        settings, _ = self._call_settings(overrides)
        requested = check_generation(settings).get("max_new_tokens")
        pipe = self.get_pipeline()
        rows = plan_rows(pipe.model, pipe.tokenizer, list(prompts), requested, add_special_tokens)
        return [row if isinstance(row, Exception) else None for row in rows]

    def complete_stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        *,
        add_special_tokens: bool = True,
        keep_special: Collection[str] = (),
        **overrides: Any,
    ) -> Iterator[str | GenerationInfo]:
        """Stream the new text for ``prompt`` token by token, without LangChain callbacks.

        Arguments as in :meth:`complete`; the last item is the :class:`GenerationInfo`.
        """
        settings, _ = self._call_settings(overrides)
        pipe = self.get_pipeline()
        yield from stream_text(
            pipe.model,
            pipe.tokenizer,
            prompt,
            settings,
            stop=self._stops(stop),
            add_special_tokens=add_special_tokens,
            keep_special=keep_special,
        )

    def batch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[str]:
        """LangChain's ``batch``, except that a prompt that cannot run fails alone.

        LangChain's ``BaseLLM.batch`` runs all prompts in one ``generate`` call, so one
        over-long prompt would fail every prompt of the batch. Here such prompts are found
        first (tokenizing only); with ``return_exceptions=True`` each gets its own error and
        the others run; without it, the first error is raised before anything runs.
        """
        runnable, outputs, configs = self._split_batch(inputs, config, return_exceptions, kwargs)
        if runnable:
            done = super().batch(
                [inputs[i] for i in runnable], [configs[i] for i in runnable], return_exceptions=return_exceptions, **kwargs
            )
            for i, output in zip(runnable, done, strict=True):
                outputs[i] = output
        return outputs

    async def abatch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[str]:
        """As :meth:`batch`."""
        runnable, outputs, configs = self._split_batch(inputs, config, return_exceptions, kwargs)
        if runnable:
            done = await super().abatch(
                [inputs[i] for i in runnable], [configs[i] for i in runnable], return_exceptions=return_exceptions, **kwargs
            )
            for i, output in zip(runnable, done, strict=True):
                outputs[i] = output
        return outputs

    def _split_batch(
        self, inputs: list[Any], config: Any, return_exceptions: bool, kwargs: dict[str, Any]
    ) -> tuple[list[int], list[Any], list[RunnableConfig]]:
        configs = get_config_list(config, len(inputs))
        if not inputs:
            return [], [], configs
        overrides = {k: v for k, v in kwargs.items() if k != "stop"}
        errors = self.prompt_errors([as_prompt_value(i).to_string() for i in inputs], **overrides)
        first = next((e for e in errors if e is not None), None)
        if first is not None and not return_exceptions:
            raise first
        return [i for i, e in enumerate(errors) if e is None], list(errors), configs

    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        results = self.complete(prompts, stop, **kwargs)
        for result in results:
            if isinstance(result, Exception):
                raise result
        generations = [[Generation(text=r.text, generation_info=r.info.model_dump())] for r in results]  # type: ignore[union-attr]
        usage = token_usage([r.info for r in results])  # type: ignore[union-attr]
        return LLMResult(generations=generations, llm_output={"model_id": self.model_id, "token_usage": usage})

    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        for piece in self.complete_stream(prompt, stop, **kwargs):
            if isinstance(piece, GenerationInfo):
                # The last chunk says how it ended; it is also the answer when nothing was
                # generated (LangChain's stream raises "No generation chunks were returned").
                last = GenerationChunk(text="", generation_info=piece.model_dump())
                if run_manager is not None:
                    run_manager.on_llm_new_token("", chunk=last)
                yield last
                return
            chunk = GenerationChunk(text=piece)
            if run_manager is not None:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk


def with_default_tokens(model: Any, max_new_tokens: int) -> Any:
    """Give a genlab local model a chain's own ``max_new_tokens`` when it has none of its own.

    A small model rambles to its token limit; each chain and tool knows how long its answer
    should be (a verdict, a label, a story). A model that set ``max_new_tokens`` (or
    ``pipeline_kwargs["max_new_tokens"]``) keeps it; any other kind of model is returned as
    it is (its own settings name lengths differently, e.g. ``max_tokens``).
    """
    from genlab.models.chat import ChatLocalModel  # cycle: chat.py builds on LocalLLM

    llm = model.llm if isinstance(model, ChatLocalModel) else model
    if not isinstance(llm, LocalLLM) or llm.max_new_tokens is not None:
        return model
    if "max_new_tokens" in (llm.pipeline_kwargs or {}):
        return model
    return model.bind(max_new_tokens=max_new_tokens)


#: Keyword arguments :func:`load_llm` accepts besides ``model`` and ``role``.
LOAD_KEYS = (*GENERATION_KEYS, "stop", "batch_size")


def check_load_arguments(role: str, settings: Mapping[str, Any]) -> None:
    """Check a role and the keyword arguments of :func:`load_llm` / ``load_chat_model``.

    Raises:
        InvalidInputError: An unknown role or setting, or a value out of range.
    """
    unknown = sorted(set(settings) - set(LOAD_KEYS))
    if unknown:
        raise InvalidInputError(f"unknown setting(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(LOAD_KEYS)}")
    if role not in ROLES:
        raise InvalidInputError(f"unknown role {role!r}; roles are: {', '.join(ROLES)}")
    check_generation({k: v for k, v in settings.items() if k in GENERATION_KEYS})
