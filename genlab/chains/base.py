"""What the chains share: the lazily loaded default model and the staged-batch runner.

**Default models.** A chain built with ``llm=None`` gets a :class:`LazyModel`, a Runnable
that asks :func:`genlab.models.resolve_model` for the role's model when it is first *used*,
never when the chain is built: building a chain (or importing the ``write_story`` tool)
loads no model and contacts no server. It asks at every call, so a changed configuration
takes effect on the next call; the model runtime keeps local weights loaded once per process.

**Staged chains.** A chain such as story -> moderate -> rewrite is a loop, which LCEL's
operators cannot express, and running one input per thread (LangChain's default
``batch``) would call one shared local pipeline from several threads and give up tensor
batching. A :class:`StagedChain` instead writes its work for one input as
:mod:`genlab.steps` (a generator that asks for stage calls) and runs the steps of all the
inputs of a batch in lockstep: all first drafts in one ``batch`` call of the story model,
then all moderations in one call, then the rewrites of the rejected ones, and so on. The
synchronous and the asynchronous driver share everything but the ``batch``/``abatch``
call, so ``invoke``/``batch`` and ``ainvoke``/``abatch`` cannot drift apart. Each input
keeps its own callbacks (one traced run per input) and its own failure.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar, NamedTuple

from langchain_core.language_models import BaseLanguageModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import BasePromptTemplate
from langchain_core.runnables import Runnable, RunnableConfig, RunnableSerializable
from langchain_core.runnables.config import (
    get_async_callback_manager_for_config,
    get_callback_manager_for_config,
    get_config_list,
    patch_config,
)
from pydantic import BaseModel, ConfigDict

from genlab.errors import InvalidInputError
from genlab.models import resolve_model
from genlab.models.backends import GENERATIVE_ROLES
from genlab.models.llm import with_default_tokens
from genlab.settings import Settings
from genlab.steps import Ask, Steps, first_failure

LLMLike = Any
"""A LangChain LLM or chat model (any ``BaseLanguageModel``), or any Runnable taking a prompt."""


class LazyModel(Runnable[Any, Any]):
    """A proxy for the configured model of a role, resolved on first use (see the module docstring).

    Every call asks :func:`genlab.models.resolve_model` for the model, so a changed
    configuration takes effect on the next call; a local model's weights are loaded once per
    process by the runtime, and a server model costs nothing to build.

    Args:
        role: A generative role: ``"text"`` (``GENLAB_TEXT_MODEL``), ``"few_shot"``
            (``GENLAB_FEW_SHOT_MODEL``, which defaults to the text model), ``"summary"`` or
            ``"chat"``.
        model: A model string overriding the configured one (a hub id, a folder, a ``.gguf``
            file, ``openai:NAME``, ``ollama:NAME``).
        settings: Settings to resolve with instead of the process-wide ones.
        generation: Generation settings for the model (``max_new_tokens``...).
    """

    def __init__(
        self, role: str = "text", model: str | None = None, *, settings: Settings | None = None, **generation: Any
    ) -> None:
        if role not in GENERATIVE_ROLES:
            raise InvalidInputError(f"role must be one of {', '.join(GENERATIVE_ROLES)}, got {role!r}")
        self.role = role
        self.model_id = model
        self.settings = settings
        self.generation = generation
        self.name = f"resolve_model({model or role})"

    def model(self) -> Runnable[Any, Any]:
        """Return the role's LangChain model (local weights are loaded once per process)."""

        return resolve_model(self.role, self.model_id, settings=self.settings, **self.generation)

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return self.model().invoke(input, config, **kwargs)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return await self.model().ainvoke(input, config, **kwargs)

    def batch(self, inputs: list[Any], config: Any = None, *, return_exceptions: bool = False, **kwargs: Any) -> list[Any]:
        return self.model().batch(inputs, config, return_exceptions=return_exceptions, **kwargs)

    async def abatch(self, inputs: list[Any], config: Any = None, *, return_exceptions: bool = False, **kwargs: Any) -> list[Any]:
        return await self.model().abatch(inputs, config, return_exceptions=return_exceptions, **kwargs)

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[Any]:
        yield from self.model().stream(input, config, **kwargs)

    async def astream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> AsyncIterator[Any]:
        async for chunk in self.model().astream(input, config, **kwargs):
            yield chunk


def resolve_llm(
    llm: LLMLike | None, *, what: str, role: str = "text", settings: Settings | None = None, **generation: Any
) -> Runnable[Any, Any]:
    """Return ``llm``, or a :class:`LazyModel` for the role's configured model when it is None.

    ``generation`` (``max_new_tokens``...) applies to the default model; a genlab local model
    the caller built without a ``max_new_tokens`` of its own gets the chain's too
    (:func:`genlab.models.llm.with_default_tokens`); any other keeps the caller's settings.

    Raises:
        InvalidInputError: ``llm`` is neither a LangChain model nor a Runnable.
    """
    if llm is None:
        return LazyModel(role, settings=settings, **generation)
    if isinstance(llm, BaseLanguageModel) and "max_new_tokens" in generation and type(llm).__module__.startswith("genlab."):
        return with_default_tokens(llm, generation["max_new_tokens"])
    if isinstance(llm, (BaseLanguageModel, Runnable)):
        return llm
    raise InvalidInputError(
        f"{what} must be a LangChain LLM or chat model (or None for the configured local model), got {type(llm).__name__}"
    )


def text_chain(prompt: BasePromptTemplate, llm: Runnable[Any, Any]) -> Runnable[Any, str]:
    """``prompt | llm | StrOutputParser()``: a string from an LLM and a chat model alike."""
    return prompt | llm | StrOutputParser()


class Stage(NamedTuple):
    """A stage of a :class:`StagedChain`: the Runnable that answers its asks."""

    runnable: Runnable[Any, Any]
    sequential: bool = False
    """Run one input at a time (a generator that keeps per-call state, or a model that must
    not run in two threads at once)."""


class StagedChain(RunnableSerializable[Any, Any]):
    """Base class of the chains that run stage by stage (see the module docstring).

    Subclasses set :attr:`output_model` and implement :meth:`prepare` (validate one input),
    :meth:`steps` (the work for one prepared input, as :mod:`genlab.steps`) and
    :meth:`stages` (the stages by name). The output of each input is its result model as a
    plain dict.
    ``stream`` yields the final output once: these chains return a checked result, and
    streaming a draft before it is checked would show what the check may reject.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    output_model: ClassVar[type[BaseModel]]
    """The model every output is an instance of (as a dict): the chain's output schema."""

    def prepare(self, value: Any) -> Any:
        """Validate one input; raise :class:`~genlab.errors.InvalidInputError` when it is bad."""
        return value

    def steps(self, item: Any) -> Steps[BaseModel]:
        """The work for one prepared input; returns an :attr:`output_model`."""
        raise NotImplementedError

    def stages(self) -> dict[str, Stage]:
        """The stages by name, in pipeline order; built for each batch from the chain's fields.

        The order decides which stage runs when the inputs of a batch wait on different ones:
        the earliest, so that inputs still being rewritten catch up and a later stage (a
        picture description, a final summary) is called once for all of them.
        """
        raise NotImplementedError

    def output(self, result: BaseModel) -> dict[str, Any]:
        """The output for one input, from the result its steps returned."""
        return result.model_dump()

    def get_output_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        return self.output_model

    # -- the Runnable interface -------------------------------------------------------------
    # batch and abatch differ only in awaiting the callbacks and the stages' abatch.

    def _run_start(self, value: Any, config: RunnableConfig) -> dict[str, Any]:
        """The ``on_chain_start`` arguments of one input's traced run."""
        return {
            "serialized": None,
            "inputs": value,
            "name": config.get("run_name") or self.get_name(),
            "run_id": config.pop("run_id", None),
        }

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return self.batch([input], config)[0]

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return (await self.abatch([input], config))[0]

    def batch(
        self,
        inputs: list[Any],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        inputs = list(inputs)
        if not inputs:
            return []
        configs = get_config_list(config, len(inputs))
        runs = [
            get_callback_manager_for_config(c).on_chain_start(**self._run_start(v, c))
            for v, c in zip(inputs, configs, strict=True)
        ]
        try:
            lockstep = _Lockstep(self, inputs, _child_configs(configs, runs))
            for call in lockstep:
                lockstep.deliver(call, call.stage.runnable.batch(call.inputs, call.configs, return_exceptions=True))
        except BaseException as exc:
            for run in runs:
                run.on_chain_error(exc)
            raise
        for run, output in zip(runs, lockstep.results, strict=True):
            run.on_chain_error(output) if isinstance(output, Exception) else run.on_chain_end(output)
        return _raise_first(lockstep.results, return_exceptions)

    async def abatch(
        self,
        inputs: list[Any],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        inputs = list(inputs)
        if not inputs:
            return []
        configs = get_config_list(config, len(inputs))
        runs = [
            await get_async_callback_manager_for_config(c).on_chain_start(**self._run_start(v, c))
            for v, c in zip(inputs, configs, strict=True)
        ]
        try:
            lockstep = _Lockstep(self, inputs, _child_configs(configs, runs))
            for call in lockstep:
                lockstep.deliver(call, await call.stage.runnable.abatch(call.inputs, call.configs, return_exceptions=True))
        except BaseException as exc:
            for run in runs:
                await run.on_chain_error(exc)
            raise
        for run, output in zip(runs, lockstep.results, strict=True):
            await (run.on_chain_error(output) if isinstance(output, Exception) else run.on_chain_end(output))
        return _raise_first(lockstep.results, return_exceptions)


class _StageBatch(NamedTuple):
    """The asks of one stage, as a single ``batch`` call."""

    stage: Stage
    inputs: list[Any]
    configs: list[RunnableConfig]
    asks: list[tuple[int, int]]
    """For each waiting input, its position in the chain's batch and how many inputs it asked for."""


class _Lockstep:
    """The steps of every input of one batch, advanced together, one stage call at a time."""

    def __init__(self, chain: StagedChain, inputs: list[Any], configs: list[RunnableConfig]) -> None:
        self.stages = chain.stages()
        self.output = chain.output
        self.configs = configs
        self.results: list[Any] = [None] * len(inputs)
        self.waiting: dict[int, tuple[Steps[BaseModel], Ask]] = {}
        for position, value in enumerate(inputs):
            try:
                item = chain.prepare(value)
            except Exception as exc:
                self.results[position] = exc
                continue
            self._advance(position, chain.steps(item), None, None)

    def __iter__(self) -> Iterator[_StageBatch]:
        """The stage calls to make until no input is waiting (deliver each one's outputs before the next)."""
        while self.waiting:
            yield self.next_call()

    def next_call(self) -> _StageBatch:
        """One call of the earliest stage (in :meth:`StagedChain.stages` order) that an input waits for, for all of them."""
        order = list(self.stages)
        name = min((ask.stage for _, ask in self.waiting.values()), key=order.index)
        stage = self.stages[name]
        positions = [position for position, (_, ask) in self.waiting.items() if ask.stage == name]
        inputs: list[Any] = []
        configs: list[RunnableConfig] = []
        for position in positions:
            ask = self.waiting[position][1]
            inputs.extend(ask.inputs)
            config = self.configs[position]
            configs.extend([{**config, "max_concurrency": 1} if stage.sequential else config] * len(ask.inputs))
        return _StageBatch(stage, inputs, configs, [(p, len(self.waiting[p][1].inputs)) for p in positions])

    def deliver(self, call: _StageBatch, outputs: list[Any]) -> None:
        """Give each input its own outputs of ``call`` (its first failure, raised in its steps)."""
        start = 0
        for position, count in call.asks:
            mine, start = outputs[start : start + count], start + count
            steps, ask = self.waiting.pop(position)
            failure = first_failure(mine)
            self._advance(position, steps, None if failure else ask.answer(mine), failure)

    def _advance(self, position: int, steps: Steps[BaseModel], send: Any, failure: BaseException | None) -> None:
        while True:
            try:
                ask = steps.throw(failure) if failure is not None else steps.send(send)
            except StopIteration as done:
                self.results[position] = self.output(done.value)
                return
            except Exception as exc:
                self.results[position] = exc
                return
            if ask.inputs:
                self.waiting[position] = (steps, ask)
                return
            send, failure = ask.answer([]), None  # nothing to call: answer at once


def _child_configs(configs: list[RunnableConfig], runs: list[Any]) -> list[RunnableConfig]:
    """Each input's stage calls run as children of that input's own traced run."""
    return [patch_config(c, callbacks=run.get_child()) for c, run in zip(configs, runs, strict=True)]


def _raise_first(outputs: list[Any], return_exceptions: bool) -> list[Any]:
    """``batch``'s contract: the outputs, or the first input's failure unless ``return_exceptions``."""
    if not return_exceptions:
        for output in outputs:
            if isinstance(output, Exception):
                raise output
    return outputs
