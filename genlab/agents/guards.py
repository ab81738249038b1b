"""A guard on the agent's turns: a model that repeats a tool call, or runs away in a tool turn.

Seen with a 0.5B Qwen2.5 instruct model: after a tool's result it emitted the very same call
again, and kept on until its token limit. Running the same call again gives the same result,
so the turn would loop to the step limit. :func:`repeat_guard` ends the turn at once, with a
message that says what happened and gives the result the model already had; it does the same
when an answer in a turn that already used tools was cut at the model's token limit.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

from langchain_core.messages import AIMessage, HumanMessage, RemoveMessage, ToolMessage

if TYPE_CHECKING:
    from langchain_core.messages import ToolCall

REPEATED_CALL_MESSAGE = (
    "I stopped: the model asked for {name} with the same arguments again after getting its result, "
    "so it would only loop. The result was: {result}"
)
RUNAWAY_MESSAGE = "I stopped: the model's answer ran to its length limit without finishing. What it wrote: {content}"


def _key(call: ToolCall) -> str:
    return json.dumps([call["name"], call.get("args", {})], sort_keys=True, default=str)


def repeat_guard() -> Any:
    """The middleware (see the module docstring); one per agent."""
    from langchain.agents.middleware import AgentMiddleware, hook_config

    class RepeatGuard(AgentMiddleware):
        """Ends a turn whose model repeats a call it has the result of, or runs away after tool use."""

        @hook_config(can_jump_to=["end"])
        def after_model(self, state: Any, runtime: Any) -> dict[str, Any] | None:
            messages = state["messages"]
            last = messages[-1] if messages else None
            if not isinstance(last, AIMessage):
                return None
            start = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1) + 1
            turn = messages[start:-1]
            results = {m.tool_call_id: m for m in turn if isinstance(m, ToolMessage)}
            calls = [c for m in turn if isinstance(m, AIMessage) for c in m.tool_calls]
            done = {_key(c): results[c["id"]] for c in calls if c["id"] in results}
            repeated = [c for c in last.tool_calls if _key(c) in done]
            if repeated:
                result = " ".join(str(done[_key(repeated[0])].content).split())[:500]
                text = REPEATED_CALL_MESSAGE.format(name=repeated[0]["name"], result=result)
            elif not last.tool_calls and results and last.response_metadata.get("finish_reason") == "length":
                text = RUNAWAY_MESSAGE.format(content=" ".join(str(last.content).split())[:300])
            else:
                return None
            return {"messages": [RemoveMessage(id=cast(str, last.id)), AIMessage(content=text)], "jump_to": "end"}

    return RepeatGuard()
