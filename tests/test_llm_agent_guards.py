"""The agent's guard against a model that repeats a tool call or runs away after using tools."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool

from genlab.agents import agent_config, build_agent
from genlab.testing import ScriptedChatModel, tool_call_message

runs: list[str] = []


@tool
def lookup(key: str) -> str:
    """Look a key up in a tiny table."""
    runs.append(key)
    return {"alpha": "1"}.get(key, "missing")


def test_the_same_call_again_after_its_result_ends_the_turn_with_the_result():
    runs.clear()
    # What a 0.5B Qwen2.5 did: the same call again after the tool's result.
    model = ScriptedChatModel(script=[tool_call_message("lookup", key="alpha")], cycle=True)
    result = build_agent(model, [lookup]).invoke({"messages": [HumanMessage("alpha?")]}, agent_config("t"))
    last = result["messages"][-1]
    assert isinstance(last, AIMessage) and not last.tool_calls
    assert "same arguments again" in last.content and "The result was: 1" in last.content
    assert runs == ["alpha"] and len(model.calls) == 2  # not eight model calls to the step limit


def test_a_different_call_goes_on():
    runs.clear()
    model = ScriptedChatModel(
        script=[tool_call_message("lookup", key="alpha"), tool_call_message("lookup", key="beta"), "alpha is 1"]
    )
    result = build_agent(model, [lookup]).invoke({"messages": [HumanMessage("alpha and beta?")]}, agent_config("u"))
    assert result["messages"][-1].content == "alpha is 1" and runs == ["alpha", "beta"]


def test_an_answer_cut_at_the_length_limit_after_tool_use_ends_with_a_clear_message():
    runaway = AIMessage(content="and so on " * 20, response_metadata={"finish_reason": "length"})
    model = ScriptedChatModel(script=[tool_call_message("lookup", key="alpha"), runaway])
    result = build_agent(model, [lookup]).invoke({"messages": [HumanMessage("alpha?")]}, agent_config("v"))
    assert result["messages"][-1].content.startswith("I stopped: the model's answer ran to its length limit")
