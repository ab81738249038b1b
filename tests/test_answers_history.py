"""Long chats on a real (tiny) local chat model with a small context: older turns are trimmed
from what the model sees, whole turns only, and the newest turns stay."""

from __future__ import annotations

import json
import shutil

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from genlab.agents.history import trim_history

CONTEXT = 1024  # byte-level tokens: about five short turns of the tiny model


def _turn(n: int, with_tool: bool) -> list:
    messages = [HumanMessage(f"question {n}: tell me about topic {n}")]
    if with_tool:
        messages += [
            AIMessage("", tool_calls=[{"name": "search_course", "args": {"query": f"topic {n}"}, "id": f"call-{n}"}]),
            ToolMessage(f"passage about topic {n} " * 5, tool_call_id=f"call-{n}"),
        ]
    return messages + [AIMessage(f"answer {n}")]


def _approximate(messages):
    return sum(len(str(m.content)) + 10 for m in messages)


def test_trimming_keeps_whole_turns_and_tool_pairs():
    history = [m for n in range(60) for m in _turn(n, with_tool=n % 3 == 0)]
    for budget in (150, 300, 700, 1500):
        kept = trim_history(history, budget, _approximate)
        assert isinstance(kept[0], HumanMessage) and kept[-1] is history[-1]
        assert _approximate(kept) <= budget or kept == history[-len(_turn(59, False)) :]
        calls = {c["id"] for m in kept if isinstance(m, AIMessage) for c in m.tool_calls}
        assert {m.tool_call_id for m in kept if isinstance(m, ToolMessage)} == calls  # no orphan on either side
        assert kept == history[len(history) - len(kept) :]  # the newest turns, in order


def test_the_current_turn_is_never_cut():
    turn = _turn(1, with_tool=True)
    assert trim_history([*_turn(0, False), *turn], 10, _approximate) == turn


@pytest.mark.slow
def test_a_sixty_turn_chat_on_a_small_context_model_has_no_context_error(tiny_models, tmp_path, monkeypatch):
    from genlab.agents import ChatSession, build_agent
    from genlab.agents.session import TurnEnd
    from genlab.models import load_chat_model
    from genlab.settings import get_settings

    small = tmp_path / "small-chat"
    shutil.copytree(tiny_models.chat, small)
    config = json.loads((small / "config.json").read_text())
    config["max_position_embeddings"] = CONTEXT  # rotary positions: no weights depend on it
    (small / "config.json").write_text(json.dumps(config))
    monkeypatch.setenv("GENLAB_CHAT_MODEL", str(small))
    get_settings.cache_clear()

    seen: list[str] = []
    model = load_chat_model(max_new_tokens=8, seed=0)
    session = ChatSession(build_agent(model, tools=[], system_prompt="You are a course assistant."))
    for method in ("_generate", "_stream"):
        original = getattr(type(model), method)

        def recording(self, messages, *args, _original=original, **kwargs):
            seen.append(" | ".join(str(m.content) for m in messages))
            return _original(self, messages, *args, **kwargs)

        monkeypatch.setattr(type(model), method, recording)
    for n in range(60):
        events = list(session.stream(f"turn {n}: what is topic number {n}?"))
        assert isinstance(events[-1], TurnEnd)  # an error would end the stream otherwise
    saved = [m.text for m in session.messages() if isinstance(m, HumanMessage)]
    assert len(saved) == 60  # the conversation keeps every turn
    last = seen[-1]
    assert "turn 59:" in last and "turn 58:" in last  # the newest turns reach the model...
    assert "turn 0:" not in last  # ...the oldest no longer fit
