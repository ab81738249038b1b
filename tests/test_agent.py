"""The course assistant driven by a scripted chat model over the real tools.

The chat model is the only stand-in (LangChain's fake models cannot call tools; see
genlab.testing); the tools run their real tiny models, the checkpointers are
LangGraph's real ones, the saved sessions a real SQLite file.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import threading

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool

from genlab.agents import DEFAULT_TOOL_NAMES, SYSTEM_PROMPT, ChatSession, agent_config, build_agent, default_tools
from genlab.agents.agent import CANCELLED_TOOL_RESULT
from genlab.agents.memory import SessionRegistry, open_checkpointer
from genlab.agents.session import TextDelta, ToolCallEvent, ToolResultEvent, TurnEnd
from genlab.errors import InvalidInputError, ModelUnavailableError
from genlab.testing import ScriptedChatModel, last_tool_result, tool_call_message


def human_texts(messages) -> list[str]:
    return [m.text for m in messages if isinstance(m, HumanMessage)]


def every_tool_call_answered(messages) -> bool:
    answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    calls = [c["id"] for m in messages if isinstance(m, AIMessage) for c in m.tool_calls]
    return all(c in answered for c in calls)


@tool
def lookup(key: str) -> str:
    """Look a key up in a tiny table."""
    return {"alpha": "1", "beta": "2"}.get(key, "missing")


# --------------------------------------------------------------------------------------
# The tool set
# --------------------------------------------------------------------------------------


def test_default_tools_are_the_seven_course_tools_and_nothing_that_runs_code():
    tools = default_tools()
    assert [t.name for t in tools] == list(DEFAULT_TOOL_NAMES)
    # No shell, no code execution, no free file writing: only these seven are offered.
    assert set(DEFAULT_TOOL_NAMES) == {
        "search_course",
        "summarize",
        "classify_zero_shot",
        "classify_few_shot",
        "write_story",
        "generate_image",
        "generate_music",
    }
    for t in tools:
        assert t.description.strip(), t.name
        assert t.args_schema is not None, t.name


def test_default_tools_with_settings_pin_models_and_output_folder(tmp_path):
    from genlab.settings import Settings

    settings = Settings(image_model=str(tmp_path / "my-image-model"), output_dir=tmp_path / "out", store="chroma")
    tools = {t.name: t for t in default_tools(settings)}
    assert tools["generate_image"].model == str(tmp_path / "my-image-model")
    assert tools["generate_image"].out_dir == tmp_path / "out"
    assert tools["summarize"].model == settings.summary_model
    assert tools["search_course"].store == settings.store
    # the shared instances are left as they were
    from genlab.tools import generate_image

    assert generate_image.model is None


def test_building_the_agent_loads_no_model(tiny_env):
    from genlab.models import get_runtime

    before = sum(get_runtime().load_counts.values())
    model = ScriptedChatModel(script=["hi"])
    agent = build_agent(model)
    assert sum(get_runtime().load_counts.values()) == before
    assert model.bound_tool_names == []  # nothing has called the model yet either
    session = ChatSession(agent)
    assert session.ask("hello") == "hi"
    assert model.bound_tool_names == list(DEFAULT_TOOL_NAMES)
    # a greeting needs no tool: still nothing loaded
    assert sum(get_runtime().load_counts.values()) == before


def test_the_system_prompt_makes_it_a_course_assistant():
    model = ScriptedChatModel(script=["hello"])
    ChatSession(build_agent(model, [lookup])).ask("hi")
    first = model.calls[0][0]
    assert isinstance(first, SystemMessage) and first.text == SYSTEM_PROMPT
    assert "search_course" in SYSTEM_PROMPT and "path" in SYSTEM_PROMPT and "cite" in SYSTEM_PROMPT.lower()


# --------------------------------------------------------------------------------------
# Turns through the real tools
# --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_course_question_is_answered_from_search_course_with_citations():
    def answer(messages):
        return f"A GAN pits a generator against a discriminator. Sources: {last_tool_result(messages)}"

    model = ScriptedChatModel(script=[tool_call_message("search_course", query="GANs versus diffusion models"), answer])
    session = ChatSession(build_agent(model, default_tools()))
    events = list(session.stream("How do GANs differ from diffusion models?"))

    calls = [e for e in events if isinstance(e, ToolCallEvent)]
    results = [e for e in events if isinstance(e, ToolResultEvent)]
    assert [c.name for c in calls] == ["search_course"]
    assert results[0].name == "search_course" and not results[0].error
    snippets = results[0].content
    assert snippets.startswith("[1] ") and "\n\n[2] " in snippets  # numbered passages to cite
    assert ".md)" in snippets.splitlines()[0]  # each names its source document
    end = events[-1]
    assert isinstance(end, TurnEnd) and not end.stopped
    assert snippets in end.answer  # the answer carries the cited snippets the tool returned
    streamed = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert streamed == end.answer


@pytest.mark.slow
def test_an_image_request_draws_with_the_tiny_model_and_reports_the_path(tiny_env, tmp_path, monkeypatch):
    from genlab.settings import get_settings

    monkeypatch.setenv("GENLAB_OUTPUT_DIR", str(tmp_path / "outputs"))
    get_settings.cache_clear()

    def report(messages):
        result = json.loads(last_tool_result(messages))
        return "Here is your fox: " + ", ".join(image["path"] for image in result["images"])

    draw = tool_call_message("generate_image", prompt="a red fox in the snow", width=64, height=64, steps=2, seed=7)
    model = ScriptedChatModel(script=[draw, report])
    answer = ChatSession(build_agent(model)).ask("Draw me a red fox in the snow")

    pngs = sorted((tmp_path / "outputs").rglob("*.png"))
    assert len(pngs) == 1
    assert str(pngs[0]) in answer
    assert pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tool_arguments_are_validated_before_anything_runs(tiny_env, tmp_path, monkeypatch):
    from genlab.models import get_runtime
    from genlab.settings import get_settings

    monkeypatch.setenv("GENLAB_OUTPUT_DIR", str(tmp_path / "outputs"))
    get_settings.cache_clear()
    loads_before = sum(get_runtime().load_counts.values())
    bad = tool_call_message("generate_image", prompt="   ", width=65, steps=-1)
    model = ScriptedChatModel(script=[bad, lambda msgs: "Sorry: " + last_tool_result(msgs)])
    events = list(ChatSession(build_agent(model)).stream("draw nothing"))

    result = next(e for e in events if isinstance(e, ToolResultEvent))
    assert result.error
    for field in ("prompt", "width", "steps"):
        assert field in result.content
    assert sum(get_runtime().load_counts.values()) == loads_before  # no model was loaded
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("*"))
    assert isinstance(events[-1], TurnEnd) and events[-1].answer.startswith("Sorry: ")


def test_a_failing_tool_comes_back_as_a_tool_message_and_the_session_goes_on(monkeypatch, tmp_path):
    from genlab.settings import get_settings

    monkeypatch.setenv("GENLAB_SUMMARY_MODEL", str(tmp_path / "no-such-model"))
    get_settings.cache_clear()

    @tool
    def explode(text: str) -> str:
        """A tool with a bug."""
        raise ZeroDivisionError("division by zero")

    model = ScriptedChatModel(
        script=[
            tool_call_message("summarize", text="A long text about diffusion models. " * 5),
            tool_call_message("explode", text="x"),
            lambda msgs: "Both tools failed; here is what they said.",
            "Still here.",
        ]
    )
    from genlab.tools import summarize

    session = ChatSession(build_agent(model, [summarize, explode]))
    events = list(session.stream("summarize this"))
    results = [e for e in events if isinstance(e, ToolResultEvent)]
    assert [r.name for r in results] == ["summarize", "explode"]
    assert all(r.error for r in results)
    assert "not available" in results[0].content and "GENLAB_SUMMARY_MODEL" in results[0].content
    assert "ZeroDivisionError" in results[1].content
    # the model saw both errors as tool messages and the turn ended normally
    tool_messages = [m for m in model.calls[2] if isinstance(m, ToolMessage)]
    assert [m.status for m in tool_messages] == ["error", "error"]
    assert events[-1].answer == "Both tools failed; here is what they said."
    assert session.ask("are you still there?") == "Still here."


def test_a_runaway_tool_loop_stops_at_the_step_limit_with_a_clear_message():
    # Different arguments each time: a repeated identical call is ended earlier (test_llm_agent_guards).
    model = ScriptedChatModel(script=[tool_call_message("lookup", key=k) for k in ("alpha", "beta", "gamma")], cycle=True)
    session = ChatSession(build_agent(model, [lookup], max_model_calls=3), max_model_calls=3)
    events = list(session.stream("loop"))
    end = events[-1]
    assert isinstance(end, TurnEnd) and end.stopped
    assert "stopped after 3 steps" in end.answer
    assert len(model.calls) == 3
    assert sum(isinstance(e, ToolResultEvent) for e in events) == 3
    # the session is still usable, and its history is consistent
    model.script[:] = ["fine now"]
    model.cycle = False
    model._position = 0
    assert session.ask("hello?") == "fine now"
    assert every_tool_call_answered(session.messages())


def test_empty_message_is_refused():
    session = ChatSession(build_agent(ScriptedChatModel(script=["x"]), [lookup]))
    with pytest.raises(InvalidInputError, match="empty"):
        list(session.stream("   "))


# --------------------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------------------


def remembering_model() -> ScriptedChatModel:
    """Answers with every user message it has seen in this conversation."""

    def recall(messages):
        return "I have heard: " + " | ".join(human_texts(messages))

    return ScriptedChatModel(script=[recall], cycle=True)


def test_two_turns_remember_and_two_sessions_stay_apart():
    agent = build_agent(remembering_model(), [lookup])
    registry = SessionRegistry.in_memory()
    ada = ChatSession(agent, name="ada", registry=registry)
    bob = ChatSession(agent, name="bob", registry=registry)

    assert ada.ask("my name is Ada") == "I have heard: my name is Ada"
    assert bob.ask("my name is Bob") == "I have heard: my name is Bob"
    assert ada.ask("what is my name?") == "I have heard: my name is Ada | what is my name?"
    assert bob.message_count() == 2
    assert ada.message_count() == 4

    ada.reset()
    assert ada.message_count() == 0
    assert ada.ask("fresh start") == "I have heard: fresh start"
    assert bob.ask("still me") == "I have heard: my name is Bob | still me"


def test_abatch_over_four_sessions_shows_no_cross_talk():
    def echo_with_tool(messages):
        if isinstance(messages[-1], HumanMessage):
            return tool_call_message("lookup", key=messages[-1].text.split()[-1])
        return f"{human_texts(messages)} -> {last_tool_result(messages)}"

    agent = build_agent(ScriptedChatModel(script=[echo_with_tool], cycle=True), [lookup])
    threads = [f"user-{i}" for i in range(4)]

    async def rounds():
        for turn in range(2):
            inputs = [{"messages": [HumanMessage(f"{tid} turn{turn} alpha")]} for tid in threads]
            await agent.abatch(inputs, [agent_config(tid) for tid in threads])

    asyncio.run(rounds())
    for tid in threads:
        messages = agent.get_state(agent_config(tid)).values["messages"]
        assert human_texts(messages) == [f"{tid} turn0 alpha", f"{tid} turn1 alpha"]
        assert messages[-1].text == f"{human_texts(messages)!r} -> 1"
        assert every_tool_call_answered(messages)


RESTART_SCRIPT = textwrap.dedent(
    """
    import sys
    from langchain_core.messages import HumanMessage
    from genlab.agents import ChatSession, build_agent
    from genlab.agents.memory import SessionRegistry, open_checkpointer
    from genlab.testing import ScriptedChatModel

    db, name, text = sys.argv[1:4]
    def recall(messages):
        return "heard: " + " | ".join(m.text for m in messages if isinstance(m, HumanMessage))
    agent = build_agent(ScriptedChatModel(script=[recall], cycle=True), [], open_checkpointer(db))
    session = ChatSession(agent, name=name, registry=SessionRegistry.open(db), saved=True)
    print(session.ask(text))
    """
)


@pytest.mark.slow
def test_a_saved_session_survives_a_process_restart(tmp_path):
    script = tmp_path / "turn.py"
    script.write_text(RESTART_SCRIPT)
    db = tmp_path / "sessions.sqlite"

    def turn(name: str, text: str) -> str:
        out = subprocess.run([sys.executable, str(script), str(db), name, text], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip().splitlines()[-1]

    assert turn("week3", "first question") == "heard: first question"
    assert turn("week3", "second question") == "heard: first question | second question"
    assert turn("other", "hello") == "heard: hello"
    assert db.exists()


def test_reset_of_a_saved_session_deletes_its_old_thread(tmp_path):
    db = tmp_path / "s.sqlite"
    agent = build_agent(remembering_model(), [], open_checkpointer(db))
    session = ChatSession(agent, name="s", registry=SessionRegistry.open(db), saved=True)
    session.ask("one")
    old = session.thread_id
    session.reset()
    assert session.thread_id != old
    assert agent.get_state(agent_config(old)).values == {}
    again = ChatSession(agent, name="s", registry=SessionRegistry.open(db), saved=True)
    assert again.thread_id == session.thread_id


def test_session_names_are_checked():
    agent = build_agent(ScriptedChatModel(script=["x"]), [])
    for bad in ("", "../etc", "a b", "x" * 65):
        with pytest.raises(InvalidInputError, match="session name"):
            ChatSession(agent, name=bad)


# --------------------------------------------------------------------------------------
# Cancelling a turn
# --------------------------------------------------------------------------------------


def test_cancelling_a_turn_returns_at_once_and_the_next_turn_sees_a_valid_history():
    release = threading.Event()

    @tool
    def slow(x: int) -> str:
        """A tool that waits until the test lets it finish."""
        release.wait(30)
        return "slow result"

    # the cancelled turn stops before its next model call, so the script has no reply for it
    model = ScriptedChatModel(script=[tool_call_message("slow", x=1), "second answer"])
    session = ChatSession(build_agent(model, [slow]))
    stream = session.stream("start something slow")
    for event in stream:
        if isinstance(event, ToolCallEvent):
            break
    stream.close()  # what the REPL does on Ctrl-C; it must not wait for the tool
    assert session.busy
    release.set()
    assert session.wait(30)

    assert session.ask("next question") == "second answer"
    last_call = model.calls[-1]
    assert every_tool_call_answered(last_call)
    assert human_texts(last_call) == ["start something slow", "next question"]


def test_cancelling_while_the_model_streams_stops_it_and_runs_no_tool():
    ran = []

    @tool
    def record(x: int) -> str:
        """Records that it ran."""
        ran.append(x)
        return "recorded"

    talkative = AIMessage(content="let me think about that " * 20, tool_calls=[tool_call_message("record", x=1).tool_calls[0]])
    model = ScriptedChatModel(script=[talkative, "short answer"], delay=0.02)
    session = ChatSession(build_agent(model, [record]))
    stream = session.stream("go")
    first = next(stream)
    assert isinstance(first, TextDelta)
    stream.close()
    assert session.wait(30)
    assert ran == []  # the model was stopped before its tool call was complete
    assert [type(m) for m in session.messages()] == [HumanMessage]
    assert session.ask("again") == "short answer"


def test_a_turn_cancelled_during_a_model_call_skips_the_tools_it_asked_for():
    from genlab.agents.agent import CANCEL_KEY

    ran = []

    @tool
    def record(x: int) -> str:
        """Records that it ran."""
        ran.append(x)
        return "recorded"

    cancel = threading.Event()

    def cancelled_while_thinking(messages):
        cancel.set()  # as if the learner pressed Ctrl-C while the model was generating
        return tool_call_message("record", x=1)

    model = ScriptedChatModel(script=[cancelled_while_thinking, "never reached"])
    agent = build_agent(model, [record])
    config = agent_config("t")
    config["configurable"][CANCEL_KEY] = cancel
    result = agent.invoke({"messages": [HumanMessage("go")]}, config)
    assert ran == []
    assert len(model.calls) == 1
    last = result["messages"][-1]
    assert isinstance(last, ToolMessage) and last.text == CANCELLED_TOOL_RESULT and last.status == "error"
    assert every_tool_call_answered(result["messages"])


def test_a_dangling_tool_call_is_closed_before_the_next_turn():
    from langgraph.checkpoint.memory import InMemorySaver

    model = ScriptedChatModel(script=["ok"])
    agent = build_agent(model, [lookup], InMemorySaver())
    session = ChatSession(agent)
    dangling = AIMessage(content="", tool_calls=[{"name": "lookup", "args": {"key": "a"}, "id": "call_1"}])
    agent.update_state(session.config, {"messages": [HumanMessage("hi"), dangling]})
    assert session.ask("hello again") == "ok"
    closing = [m for m in model.calls[-1] if isinstance(m, ToolMessage)]
    assert [(m.tool_call_id, m.text, m.status) for m in closing] == [("call_1", CANCELLED_TOOL_RESULT, "error")]


# --------------------------------------------------------------------------------------
# Choosing the chat model
# --------------------------------------------------------------------------------------


def test_chat_factory_variable_names_the_model(monkeypatch, tmp_path):
    (tmp_path / "my_factory.py").write_text(
        "from genlab.testing import ScriptedChatModel\n"
        "def make(model=None):\n"
        "    return ScriptedChatModel(script=[f'model={model}'])\n"
        "def wrong(model=None):\n"
        "    return 42\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    from genlab.settings import get_settings

    monkeypatch.setenv("GENLAB_CHAT_FACTORY", "my_factory:make")
    get_settings.cache_clear()
    assert ChatSession(build_agent("some/model", [])).ask("hi") == "model=some/model"

    for spec, reason in [
        ("my_factory", "module:function"),
        ("no_such_module_xyz:make", "cannot import"),
        ("my_factory:missing", "no attribute"),
        ("my_factory:wrong", "not a chat model"),
    ]:
        monkeypatch.setenv("GENLAB_CHAT_FACTORY", spec)
        get_settings.cache_clear()
        with pytest.raises(ModelUnavailableError, match=reason):
            build_agent(None, [])
