"""Every generative role over a real OpenAI-compatible server: ``transformers serve`` on 127.0.0.1.

The server serves the scripted tiny Qwen2 (``tiny_models.build_scripted_qwen2``): with tools it
calls ``search_course``, after a tool result it answers, without tools it gives a plain cited
answer, and a completion prompt ending in ``:`` continues with ``" positive###..."``. One server
runs per test session (``model_server`` in conftest.py) and is always stopped.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from model_server import free_port
from tiny_models import SCRIPTED_AFTER_TOOL, SCRIPTED_PLAIN, SCRIPTED_TOOL_ARGUMENTS

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow, pytest.mark.server]


@pytest.fixture
def served(model_server, monkeypatch):
    """Point the chat and text roles at the server through the environment, as a user would."""
    from genlab.settings import get_settings

    model = f"openai:{model_server.folder}"
    for name, value in {
        "GENLAB_OPENAI_BASE_URL": model_server.base_url,
        "GENLAB_CHAT_MODEL": model,
        "GENLAB_TEXT_MODEL": model,
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return model_server


def _search_tool():
    from langchain_core.tools import tool

    @tool
    def search_course(query: str) -> str:
        """Search the course documents."""
        return f"[1] {query}: a generator and a discriminator are trained against each other."

    return search_course


def test_chat_role_returns_the_servers_tool_call(served):
    from genlab.models import load_chat_model

    message = load_chat_model().bind_tools([_search_tool()]).invoke("What are GANs?")
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [("search_course", SCRIPTED_TOOL_ARGUMENTS)]


def test_chat_role_streams_text_and_tool_calls(served):
    from genlab.models import load_chat_model

    chat = load_chat_model()
    chunks = list(chat.stream("Hello"))
    assert len(chunks) > 1 and "".join(str(c.content) for c in chunks) == SCRIPTED_PLAIN
    streamed = [c for chunk in chat.bind_tools([_search_tool()]).stream("What are GANs?") for c in chunk.tool_call_chunks]
    assert [c["name"] for c in streamed] == ["search_course"]


def test_agent_over_the_server_searches_the_course_and_answers(served, tiny_env, monkeypatch):
    from genlab.agents import agent_config, build_agent, default_tools
    from genlab.settings import get_settings

    monkeypatch.setenv("GENLAB_CHAT_MODEL", f"openai:{served.folder}")  # tiny_env set the local one
    get_settings.cache_clear()
    agent = build_agent(tools=default_tools())
    result = agent.invoke({"messages": [("user", "What are GANs?")]}, agent_config("server-thread"))
    messages = result["messages"]
    calls = [c for m in messages for c in getattr(m, "tool_calls", [])]
    assert [(c["name"], c["args"]) for c in calls] == [("search_course", SCRIPTED_TOOL_ARGUMENTS)]
    (tool_message,) = [m for m in messages if m.type == "tool"]
    assert "[1]" in tool_message.content and not tool_message.content.startswith("Error")  # the real index answered
    assert messages[-1].content == SCRIPTED_AFTER_TOOL


def test_text_role_uses_completions_and_honours_stop(served):
    from langchain_openai import OpenAI

    from genlab.models import load_llm

    llm = load_llm(f"openai:{served.folder}")
    assert isinstance(llm, OpenAI)
    assert llm.invoke("Label:") == " positive### and text after the stop"
    # The stop reaches the server (it stops there) and is not part of the text.
    assert llm.invoke("Label:", stop=["###"]) == " positive"
    assert load_llm(stop=["###"]).batch(["Label:", "Sentiment:"]) == [" positive", " positive"]
    assert "".join(load_llm(stop=["###"]).stream("Label:")) == " positive"


def test_resolve_model_gives_a_chat_model_for_a_served_text_role(served):
    from langchain_core.language_models import BaseChatModel

    from genlab.models import resolve_model

    model = resolve_model("text")
    assert isinstance(model, BaseChatModel)
    assert model.invoke("Write a story").content == SCRIPTED_PLAIN


def _genlab(args: list[str], env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "genlab.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=env["GENLAB_HOME"],
    )


def _env(served, home: Path, **more: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("GENLAB_")}
    model = f"openai:{served.folder}"
    return {
        **keep,
        "PYTHONPATH": str(ROOT),
        "GENLAB_HOME": str(home),
        "GENLAB_OPENAI_BASE_URL": served.base_url,
        "GENLAB_CHAT_MODEL": model,
        "GENLAB_TEXT_MODEL": model,
        **more,
    }


def test_cli_ask_llm_answers_over_the_server(served, session_home):
    proc = _genlab(["ask", "--llm", "What is a GAN?"], _env(served, session_home))
    assert proc.returncode == 0, proc.stderr
    answer, _, sources = proc.stdout.partition("Sources")
    assert SCRIPTED_PLAIN in answer and "[1] " in sources


def test_cli_story_writes_and_moderates_over_the_server(served, session_home):
    proc = _genlab(["story"], _env(served, session_home))
    assert proc.returncode == 0, proc.stderr
    assert SCRIPTED_PLAIN in proc.stdout
    assert "Verdict: Kid-friendly." in proc.stdout and "said yes" in proc.stdout, proc.stdout


# -- a server that fails: one line naming the URL and the role, exit 2 ----------------------


@pytest.fixture
def silent_port():
    """A loopback port that accepts connections and never answers (a hung server)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in accepted:
            connection.close()
        listener.close()


def _failure_cases(served, silent_port: int) -> dict[str, tuple[dict[str, str], str]]:
    down = f"http://127.0.0.1:{free_port()}/v1"
    return {
        "refused": ({"GENLAB_OPENAI_BASE_URL": down}, "does not answer (connection failed)"),
        "unknown model": ({"GENLAB_CHAT_MODEL": "openai:no-such-model"}, "refused the request (HTTP 400"),
        "timeout": (
            {"GENLAB_OPENAI_BASE_URL": f"http://127.0.0.1:{silent_port}/v1", "GENLAB_REQUEST_TIMEOUT": "1"},
            "timed out",
        ),
    }


@pytest.mark.parametrize("case", ["refused", "unknown model", "timeout"])
def test_cli_reports_a_failing_server_in_one_line(served, session_home, silent_port, case):
    more, needle = _failure_cases(served, silent_port)[case]
    env = _env(served, session_home, **more)
    proc = _genlab(["ask", "--llm", "What is a GAN?"], env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    url = env["GENLAB_OPENAI_BASE_URL"]
    assert line.startswith("genlab: error: chat model") and url in line and needle in line, line
    assert "Traceback" not in proc.stderr and proc.stdout == ""


@pytest.mark.parametrize("case", ["refused", "unknown model", "timeout"])
def test_every_call_path_raises_the_one_error(served, silent_port, monkeypatch, case):
    """invoke, batch, stream and their async twins, of the chat and the text clients."""
    import asyncio

    from genlab.errors import ModelUnavailableError
    from genlab.models import load_chat_model, load_llm
    from genlab.settings import get_settings

    more, needle = _failure_cases(served, silent_port)[case]
    if "GENLAB_CHAT_MODEL" in more:
        more = {**more, "GENLAB_TEXT_MODEL": more["GENLAB_CHAT_MODEL"]}
    model_name = f"openai:{served.folder}"
    base = {"GENLAB_OPENAI_BASE_URL": served.base_url, "GENLAB_CHAT_MODEL": model_name, "GENLAB_TEXT_MODEL": model_name}
    for name, value in {**base, **more}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()

    async def collect(stream):
        return [chunk async for chunk in stream]

    models = {"chat": load_chat_model(), "text": load_llm()}
    for role, model in models.items():
        calls = {
            "invoke": lambda m: m.invoke("Label:"),
            "batch": lambda m: m.batch(["Label:"]),
            "stream": lambda m: list(m.stream("Label:")),
        }
        for how, call in calls.items():
            with pytest.raises(ModelUnavailableError) as caught:
                call(model)
            assert caught.value.role == role and needle in str(caught.value), (role, how, str(caught.value))

    async def each_async_call() -> list[tuple[str, str, BaseException | None]]:
        # One event loop for all: the clients' pooled connections belong to the loop that opened them.
        seen = []
        for role, model in models.items():
            for how in ("ainvoke", "astream"):
                try:
                    await (model.ainvoke("Label:") if how == "ainvoke" else collect(model.astream("Label:")))
                    seen.append((role, how, None))
                except Exception as exc:
                    seen.append((role, how, exc))
        return seen

    for role, how, exc in asyncio.run(each_async_call()):
        assert isinstance(exc, ModelUnavailableError) and exc.role == role and needle in str(exc), (role, how, repr(exc))
