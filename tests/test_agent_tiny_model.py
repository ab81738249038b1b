"""The agent loop on a real (tiny, random) local chat model through load_chat_model.

Its words are random, so these tests assert the loop: the tools' schemas go through the
chat template, the turn ends with an assistant message, memory and the shared runtime work.

The tiny model's tokenizer is byte-level: the system prompt and the seven tools' schemas
take about 10,000 tokens, where a real tokenizer needs about 2,500. The tests that bind all
seven tools need a tiny model whose context holds that.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from genlab.agents import ChatSession, build_agent, default_tools
from genlab.agents.session import TurnEnd

ALL_TOOLS_CONTEXT = 16384


def needs_context_for_all_tools(folder) -> None:
    context = json.loads((folder / "config.json").read_text())["max_position_embeddings"]
    if context < ALL_TOOLS_CONTEXT:
        pytest.skip(
            f"the tiny chat model's context ({context} byte-level tokens) cannot hold the prompt and the "
            f"seven tool schemas (about 10,000); it needs max_position_embeddings >= {ALL_TOOLS_CONTEXT}"
        )


def test_the_tiny_chat_model_runs_whole_turns_and_remembers(tiny_env):
    from genlab.models import get_runtime, load_chat_model
    from genlab.tools import summarize

    model = load_chat_model(max_new_tokens=12, seed=0)
    before = sum(get_runtime().load_counts.values())
    agent = build_agent(model, [summarize], system_prompt="You are a course assistant.")
    session = ChatSession(agent)
    assert sum(get_runtime().load_counts.values()) == before  # building loaded nothing

    for question in ("What is a diffusion model?", "And a transformer?"):
        events = list(session.stream(question))
        assert isinstance(events[-1], TurnEnd)
    messages = session.messages()
    assert [m.text for m in messages if isinstance(m, HumanMessage)] == ["What is a diffusion model?", "And a transformer?"]
    assert isinstance(messages[-1], AIMessage) and not messages[-1].tool_calls
    assert get_runtime().load_counts[get_runtime().key_for("chat")] == 1  # loaded on first use, then shared


@pytest.mark.slow
def test_build_agent_without_a_model_uses_the_configured_local_chat_model(tiny_env):
    session = ChatSession(build_agent(tools=[]))
    events = list(session.stream("hello"))
    assert isinstance(events[-1], TurnEnd)
    answer = session.messages()[-1]
    assert isinstance(answer, AIMessage)
    assert answer.response_metadata["model_name"] == str(tiny_env.chat)


@pytest.mark.slow
def test_the_tiny_chat_model_runs_a_turn_with_all_seven_tools(tiny_env):
    from genlab.models import load_chat_model

    needs_context_for_all_tools(tiny_env.chat)
    session = ChatSession(build_agent(load_chat_model(max_new_tokens=12, seed=0), default_tools()))
    events = list(session.stream("Draw me a cat, please."))
    assert isinstance(events[-1], TurnEnd)
    assert isinstance(session.messages()[-1], AIMessage)


@pytest.mark.slow
def test_genlab_chat_runs_on_the_tiny_chat_model(tiny_env):
    needs_context_for_all_tools(tiny_env.chat)
    out = subprocess.run(
        [sys.executable, "-m", "genlab.cli", "chat", "--session", "tiny"],
        input="hello\n/session\n",
        env=dict(os.environ),  # tiny_env pointed every GENLAB_*_MODEL at its tiny model
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "session tiny: 2 messages (saved)" in out.stdout.splitlines()
