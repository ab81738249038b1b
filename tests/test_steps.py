"""genlab.steps and the lockstep driver of StagedChain: batching across inputs, failures per input."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest
from langchain_core.runnables import Runnable
from pydantic import BaseModel, PrivateAttr

from genlab.chains.base import Stage, StagedChain
from genlab.steps import Ask, Steps, run_steps


class Counted(BaseModel):
    value: int
    trail: list[str]


class Doubling(StagedChain):
    """Doubles a number until it passes 10; asks 'add' for each of its digits once at the end."""

    output_model: ClassVar[type[BaseModel]] = Counted
    _batches: list[tuple[str, list[Any]]] = PrivateAttr(default_factory=list)

    def stages(self) -> dict[str, Stage]:
        return {name: Stage(Recorded(name, self._batches), sequential=name == "add") for name in ("double", "add")}

    def steps(self, item: int) -> Steps[Counted]:
        trail: list[str] = []
        value = item
        while value <= 10:
            value = yield Ask.one("double", value)
            trail.append(f"x2={value}")
        digits = yield Ask.each("add", [int(d) for d in str(value)])
        extra = yield Ask.each("add", [])  # nothing to ask: answered at once, no call
        trail.append(f"digits={digits} extra={extra}")
        return Counted(value=value, trail=trail)


class Recorded(Runnable[Any, Any]):
    """A stage whose ``batch`` is one call with the whole list (as a model's batch is), logged."""

    def __init__(self, name: str, log: list[tuple[str, list[Any]]]) -> None:
        self.name = name
        self.log = log

    def invoke(self, input: Any, config: Any = None, **kwargs: Any) -> Any:
        return self.batch([input])[0]

    def batch(self, inputs: list[Any], config: Any = None, *, return_exceptions: bool = False, **kwargs: Any) -> list[Any]:
        self.log.append((self.name, list(inputs)))
        outputs = [_answer(self.name, value) for value in inputs]
        failures = [output for output in outputs if isinstance(output, Exception)]
        if failures and not return_exceptions:
            raise failures[0]
        return outputs

    async def abatch(self, inputs: list[Any], config: Any = None, *, return_exceptions: bool = False, **kwargs: Any) -> list[Any]:
        return self.batch(inputs, config, return_exceptions=return_exceptions)


def _answer(stage: str, value: int) -> Any:
    if stage == "double":
        return ValueError("the model refused 6") if value == 6 else 2 * value
    return value + 1


def test_inputs_that_reach_a_stage_at_different_times_share_one_call_of_it() -> None:
    chain = Doubling()
    assert chain.batch([1, 7]) == [
        {"value": 16, "trail": ["x2=2", "x2=4", "x2=8", "x2=16", "digits=[2, 7] extra=[]"]},
        {"value": 14, "trail": ["x2=14", "digits=[2, 5] extra=[]"]},
    ]
    # The first call doubles both. 7 is then done doubling and waits for "add" while 1 goes on
    # doubling: the earliest stage runs first, so "add" is called once, for both inputs.
    assert chain._batches == [
        ("double", [1, 7]),
        ("double", [2]),
        ("double", [4]),
        ("double", [8]),
        ("add", [1, 4, 1, 6]),  # 7 (now 14) was waiting first
    ]


def test_a_failed_call_fails_only_its_own_input_and_batch_raises_it_unless_asked() -> None:
    chain = Doubling()
    results = chain.batch([6, 5], return_exceptions=True)
    assert isinstance(results[0], ValueError) and "refused 6" in str(results[0])
    assert results[1]["value"] == 20
    with pytest.raises(ValueError, match="refused 6"):
        chain.batch([5, 6])
    assert asyncio.run(chain.abatch([6, 5], return_exceptions=True))[1] == results[1]


def test_run_steps_raises_a_failure_inside_the_steps_where_they_can_handle_it() -> None:
    def steps() -> Steps[str]:
        try:
            yield Ask.one("flaky", 1)
        except KeyError as exc:
            recovered = yield Ask.each("echo", [f"recovered from {exc}", "twice"])
            return " / ".join(recovered)
        return "unreachable"

    def call(stage: str, value: Any) -> Any:
        if stage == "flaky":
            raise KeyError("the first try")
        return value

    assert run_steps(steps(), call) == "recovered from 'the first try' / twice"

    def unhandled() -> Steps[str]:
        yield Ask.one("flaky", 1)
        return "unreachable"

    with pytest.raises(KeyError):
        run_steps(unhandled(), call)
