"""Steps: a computation over one input, written as a generator that asks for its model calls.

A multi-step job (write a story, moderate it, rewrite it; summarize chunks, then their
summaries) is written for *one* input as straight-line code that ``yield``\\ s an
:class:`Ask` whenever it needs a model and receives the answer at that ``yield``::

    def steps(text: str) -> Steps[str]:
        chunks = split(text)
        summaries = yield Ask.each("map", chunks)      # one answer per chunk
        return (yield Ask.one("reduce", "\\n\\n".join(summaries)))

Who answers decides how the calls run. :func:`run_steps` answers one input's asks one at a
time (the ``summarize`` tool). :class:`genlab.chains.base.StagedChain` runs the steps of a
whole batch in lockstep and answers all the asks for one stage with a single ``batch`` call
of that stage's Runnable, so a batch of ten stories costs one call of the story model per
step, not ten. A failed call is raised inside the generator, at its ``yield``: the steps
read like ordinary code, and a failure ends only the input it belongs to.

Why a generator rather than a LangGraph graph: the steps are a loop with per-input branches
(rewrite only the rejected stories), and batching *across* inputs is the point; a graph runs
one input's state at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Ask:
    """One model call (or several, of the same stage) that steps need before they go on."""

    stage: str
    """Name of the stage that answers (for example ``"story"``, ``"moderate"``)."""
    inputs: tuple[Any, ...]
    """What the stage is called with, one call per item."""
    many: bool
    """True: the answer is a list with one output per input; False: the one output."""

    @classmethod
    def one(cls, stage: str, value: Any) -> Ask:
        """Ask ``stage`` for one output; the ``yield`` returns it."""
        return cls(stage, (value,), many=False)

    @classmethod
    def each(cls, stage: str, values: list[Any]) -> Ask:
        """Ask ``stage`` for one output per value; the ``yield`` returns them as a list, in order."""
        return cls(stage, tuple(values), many=True)

    def answer(self, outputs: list[Any]) -> Any:
        """What the ``yield`` returns, given the stage's outputs for :attr:`inputs`."""
        return list(outputs) if self.many else outputs[0]


Steps = Generator[Ask, Any, T]
"""Steps that yield :class:`Ask` requests and return a ``T``."""


def first_failure(outputs: list[Any]) -> BaseException | None:
    """The first exception among a stage's outputs (``batch(..., return_exceptions=True)``), if any."""
    return next((output for output in outputs if isinstance(output, BaseException)), None)


def run_steps(steps: Steps[T], call: Callable[[str, Any], Any]) -> T:
    """Run ``steps`` to the end, answering each ask with ``call(stage, value)``, one value at a time.

    An exception from ``call`` is raised inside the steps at their ``yield``; if they do not
    handle it, it propagates from here.
    """
    send: Any = None
    failure: BaseException | None = None
    while True:
        try:
            ask = steps.throw(failure) if failure is not None else steps.send(send)
        except StopIteration as done:
            return done.value
        failure = None
        try:
            send = ask.answer([call(ask.stage, value) for value in ask.inputs])
        except Exception as exc:
            failure = exc
