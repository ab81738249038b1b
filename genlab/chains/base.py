"""What the chains share: the lazily loaded default model and the staged-batch runner.

**Default models.** A chain built with ``llm=None`` gets a :class:`LazyModel`, a Runnable
that asks :func:`genlab.models.resolve_model` for the role's model when it is first *used*,
never when the chain is built: building a chain (or importing the ``write_story`` tool)
loads no model and contacts no server. It asks at every call, so a changed configuration
takes effect on the next call; the model runtime keeps local weights loaded once per process.

**Staged chains.** A chain such as story -> moderate -> rewrite is a loop, which LCEL's
operators cannot express, and running one input per thread (LangChain's default
``batch``) would call one shared local pipeline from several threads and give up tensor
batching. A :class:`StagedChain` instead runs *stage by stage*: all first drafts in one
``batch`` call of the story model, then all moderations in one call, then the rewrites of
the rejected ones, and so on. Its steps are written once, as a generator that yields the
stage calls it needs (:class:`StageCall`); a synchronous and an asynchronous driver run
the same generator, so ``invoke``/``batch`` and ``ainvoke``/``abatch`` cannot drift apart.
Each input keeps its own callbacks (one traced run per input) and its own failure.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator
from typing import Any, NamedTuple

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
from pydantic import ConfigDict

from genlab.errors import InvalidInputError
from genlab.models.backends import GENERATIVE_ROLES
from genlab.settings import Settings

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
        from genlab.models import resolve_model

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
        from genlab.models.llm import with_default_tokens

        return with_default_tokens(llm, generation["max_new_tokens"])
    if isinstance(llm, (BaseLanguageModel, Runnable)):
        return llm
    raise InvalidInputError(
        f"{what} must be a LangChain LLM or chat model (or None for the configured local model), got {type(llm).__name__}"
    )


def text_chain(prompt: BasePromptTemplate, llm: Runnable[Any, Any]) -> Runnable[Any, str]:
    """``prompt | llm | StrOutputParser()``: a string from an LLM and a chat model alike."""
    return prompt | llm | StrOutputParser()


class StageCall(NamedTuple):
    """One step a :class:`StagedChain` asks its driver to run."""

    stage: str
    """Name of the stage Runnable (see :meth:`StagedChain.stage`)."""
    inputs: list[Any]
    """The stage's inputs, run as one ``batch``."""
    owners: list[int]
    """For each input, the position of the chain input it belongs to (for its callbacks)."""
    sequential: bool = False
    """Run one input at a time (for stages whose model must not run in two threads at once)."""


Plan = Generator[StageCall, list[Any], list[Any]]
"""A chain's steps: yields stage calls, receives each call's outputs (an exception in place
of a failed output), returns one output (or exception) per prepared input."""


class StagedChain(RunnableSerializable[Any, Any]):
    """Base class of the chains that run stage by stage (see the module docstring).

    Subclasses implement :meth:`prepare` (validate one input), :meth:`plan` (the steps,
    for all prepared inputs at once) and :meth:`stage` (the Runnable behind a stage name).
    ``stream`` yields the final output once: these chains return a checked result, and
    streaming a draft before it is checked would show what the check may reject.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    def prepare(self, value: Any) -> Any:
        """Validate one input; raise :class:`~genlab.errors.InvalidInputError` when it is bad."""
        return value

    def plan(self, items: list[Any]) -> Plan:
        """The chain's steps for ``items`` (prepared inputs); see :data:`Plan`."""
        raise NotImplementedError

    def stage(self, name: str) -> Runnable[Any, Any]:
        """Return the Runnable that runs stage ``name``."""
        raise NotImplementedError

    # -- the Runnable interface -------------------------------------------------------------

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
            get_callback_manager_for_config(c).on_chain_start(
                None, value, name=c.get("run_name") or self.get_name(), run_id=c.pop("run_id", None)
            )
            for value, c in zip(inputs, configs, strict=True)
        ]
        try:
            outputs = self._run_sync(inputs, _child_configs(configs, runs))
        except BaseException as exc:
            for run in runs:
                run.on_chain_error(exc)
            raise
        return _finish_runs(runs, outputs, return_exceptions)

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
            await get_async_callback_manager_for_config(c).on_chain_start(
                None, value, name=c.get("run_name") or self.get_name(), run_id=c.pop("run_id", None)
            )
            for value, c in zip(inputs, configs, strict=True)
        ]
        try:
            outputs = await self._run_async(inputs, _child_configs(configs, runs))
        except BaseException as exc:
            for run in runs:
                await run.on_chain_error(exc)
            raise
        for run, output in zip(runs, outputs, strict=True):
            await (run.on_chain_error(output) if isinstance(output, Exception) else run.on_chain_end(output))
        return _raise_first(outputs, return_exceptions)

    # -- drivers ----------------------------------------------------------------------------

    def _start(self, inputs: list[Any]) -> tuple[list[Any], list[int], Plan]:
        results: list[Any] = [None] * len(inputs)
        positions: list[int] = []
        items: list[Any] = []
        for position, value in enumerate(inputs):
            try:
                items.append(self.prepare(value))
                positions.append(position)
            except Exception as exc:
                results[position] = exc
        return results, positions, self.plan(items)

    def _stage_configs(self, call: StageCall, configs: list[RunnableConfig], positions: list[int]) -> list[RunnableConfig]:
        chosen = [configs[positions[owner]] for owner in call.owners]
        if call.sequential:
            chosen = [{**c, "max_concurrency": 1} for c in chosen]
        return chosen

    def _run_sync(self, inputs: list[Any], config: list[RunnableConfig]) -> list[Any]:
        results, positions, plan = self._start(inputs)
        outputs: list[Any] | None = None
        while True:
            try:
                call = next(plan) if outputs is None else plan.send(outputs)
            except StopIteration as done:
                return _merge(results, positions, done.value)
            if not call.inputs:
                outputs = []
                continue
            runnable = self.stage(call.stage)
            outputs = runnable.batch(call.inputs, self._stage_configs(call, config, positions), return_exceptions=True)

    async def _run_async(self, inputs: list[Any], config: list[RunnableConfig]) -> list[Any]:
        results, positions, plan = self._start(inputs)
        outputs: list[Any] | None = None
        while True:
            try:
                call = next(plan) if outputs is None else plan.send(outputs)
            except StopIteration as done:
                return _merge(results, positions, done.value)
            if not call.inputs:
                outputs = []
                continue
            runnable = self.stage(call.stage)
            configs = self._stage_configs(call, config, positions)
            outputs = await runnable.abatch(call.inputs, configs, return_exceptions=True)


def _child_configs(configs: list[RunnableConfig], runs: list[Any]) -> list[RunnableConfig]:
    """Each input's stage calls run as children of that input's own traced run."""
    return [patch_config(c, callbacks=run.get_child()) for c, run in zip(configs, runs, strict=True)]


def _finish_runs(runs: list[Any], outputs: list[Any], return_exceptions: bool) -> list[Any]:
    for run, output in zip(runs, outputs, strict=True):
        if isinstance(output, Exception):
            run.on_chain_error(output)
        else:
            run.on_chain_end(output)
    return _raise_first(outputs, return_exceptions)


def _raise_first(outputs: list[Any], return_exceptions: bool) -> list[Any]:
    """``batch``'s contract: the outputs, or the first input's failure unless ``return_exceptions``."""
    if not return_exceptions:
        for output in outputs:
            if isinstance(output, Exception):
                raise output
    return outputs


def _merge(results: list[Any], positions: list[int], outputs: list[Any]) -> list[Any]:
    for position, output in zip(positions, outputs, strict=True):
        results[position] = output
    return results
