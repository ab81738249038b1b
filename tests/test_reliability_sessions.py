"""Saved sessions are never lost: two chats on one session, damaged files, listing and deleting.

The concurrency case runs two real `genlab chat` processes on one session and then reads
the SQLite file they shared; the damaged-file cases check the file is left byte for byte.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cli_runner import run_cli
from langchain_core.messages import AIMessage, HumanMessage

from genlab.agents import ChatSession, build_agent, open_checkpointer
from genlab.agents.memory import SessionRegistry, delete_session, list_sessions
from genlab.errors import SessionStoreError
from genlab.testing import ScriptedChatModel

FACTORY = textwrap.dedent(
    """
    from langchain_core.messages import HumanMessage
    from genlab.testing import ScriptedChatModel

    def reply(messages):
        return "answer to " + messages[-1].text

    def make(model=None):
        return ScriptedChatModel(script=[reply], cycle=True, delay=0.002)
    """
)


@pytest.fixture
def chat_env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "sessions_factory.py").write_text(FACTORY)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    env["GENLAB_CHAT_FACTORY"] = "sessions_factory:make"
    env["GENLAB_HOME"] = str(tmp_path / "home")
    return env


def saved_messages(path: Path, name: str) -> list:
    """The messages of session ``name`` as they are in the SQLite file."""
    registry = SessionRegistry.open(path)
    saver = open_checkpointer(path)
    try:
        thread = registry.current_thread(name)
        saved = saver.get_tuple({"configurable": {"thread_id": thread, "checkpoint_ns": ""}})
        return list(saved.checkpoint["channel_values"]["messages"]) if saved else []
    finally:
        registry.close()
        saver.conn.close()


@pytest.mark.slow
def test_two_chats_on_one_session_keep_every_turn_in_order(chat_env, tmp_path):
    turns = 20
    procs = []
    for who in ("A", "B"):
        stdin = "".join(f"{who}-{i}\n" for i in range(turns))
        proc = subprocess.Popen(
            [sys.executable, "-m", "genlab.cli", "chat", "--session", "shared"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=chat_env,
            text=True,
        )
        procs.append((proc, stdin))
    results = [proc.communicate(stdin, timeout=300) for proc, stdin in procs]
    for (proc, _), (_out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
    messages = saved_messages(tmp_path / "home" / "sessions.sqlite", "shared")
    humans = [m.text for m in messages if isinstance(m, HumanMessage)]
    assert len(humans) == 2 * turns, f"{len(humans)} of {2 * turns} messages kept"
    for who in ("A", "B"):
        assert [h for h in humans if h.startswith(who)] == [f"{who}-{i}" for i in range(turns)]
    # Every question is followed by its own answer: no turn was written over another.
    for question, answer in zip(messages[::2], messages[1::2], strict=True):
        assert isinstance(question, HumanMessage) and isinstance(answer, AIMessage)
        assert answer.text == "answer to " + question.text
    # Each process saw the other's turns: its answers came with the whole history.
    for out, _ in results:
        assert out.count("answer to ") == turns


def test_a_reset_in_one_process_moves_the_other_to_the_new_conversation(tmp_path):
    path = tmp_path / "sessions.sqlite"
    model = ScriptedChatModel(script=[lambda m: "ok"], cycle=True)

    def open_one() -> ChatSession:
        return ChatSession(build_agent(model, [], open_checkpointer(path)), name="s", registry=SessionRegistry.open(path))

    first, second = open_one(), open_one()
    first.ask("one")
    second.reset()
    first.ask("two")  # must land in the conversation the session is on now, not the deleted one
    assert [m.text for m in saved_messages(path, "s") if isinstance(m, HumanMessage)] == ["two"]


def _valid_sessions_file(path: Path) -> None:
    model = ScriptedChatModel(script=[lambda m: "an answer " * 20], cycle=True)
    saver, registry = open_checkpointer(path), SessionRegistry.open(path)
    session = ChatSession(build_agent(model, [], saver), name="keep", registry=registry)
    for i in range(5):
        session.ask(f"question {i}")
    saver.conn.close()  # the last connection to close writes the WAL back into the file
    registry.close()
    assert not path.with_name(path.name + "-wal").exists() and path.stat().st_size > 100_000


def _truncate(path: Path, fraction: float) -> None:
    _valid_sessions_file(path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


DAMAGE = [
    ("truncated-to-half", lambda p: _truncate(p, 0.5)),
    ("truncated-to-a-tenth", lambda p: _truncate(p, 0.1)),
    ("truncated-mid-header", lambda p: _truncate(p, 0.00005)),
    ("random-bytes", lambda p: p.write_bytes(random.Random(7).randbytes(50_000))),
    ("text-file", lambda p: p.write_text("these are my notes, not a database\n" * 100)),
    ("header-then-garbage", lambda p: p.write_bytes(b"SQLite format 3\x00" + random.Random(3).randbytes(8192))),
    ("a-folder", lambda p: (p.mkdir(), (p / "inside.txt").write_text("x"))),
]


def _state(path: Path) -> object:
    if path.is_dir():
        return sorted(str(q.relative_to(path)) for q in path.rglob("*"))
    return path.read_bytes()


@pytest.mark.parametrize(("case", "damage"), DAMAGE, ids=[d[0] for d in DAMAGE])
@pytest.mark.parametrize("command", [["chat", "--session", "keep"], ["chat", "--list"], ["chat", "--delete", "keep"]])
def test_a_damaged_sessions_file_is_refused_and_left_alone(case, damage, command, tmp_path, monkeypatch, capsys):
    from genlab.settings import get_settings

    (tmp_path / "sessions_factory.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("GENLAB_CHAT_FACTORY", "sessions_factory:make")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("GENLAB_HOME", str(home))
    get_settings.cache_clear()
    path = home / "sessions.sqlite"
    damage(path)
    before = _state(path)
    monkeypatch.setattr("sys.stdin", open(os.devnull))
    code, out, err = run_cli(command, capsys)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genlab: error: the sessions file"), err
    assert str(path) in lines[0] and "move it aside" in lines[0] and "Nothing was changed" in lines[0]
    assert _state(path) == before


def test_the_python_api_raises_the_same_error(tmp_path):
    path = tmp_path / "sessions.sqlite"
    path.write_bytes(b"\x00" * 4096)
    with pytest.raises(SessionStoreError, match="move it aside"):
        open_checkpointer(path)
    with pytest.raises(SessionStoreError):
        SessionRegistry.open(path)
    with pytest.raises(SessionStoreError):
        list_sessions(path)


def test_list_and_delete_sessions(tmp_path, monkeypatch, capsys):
    from genlab.settings import get_settings

    monkeypatch.setenv("GENLAB_HOME", str(tmp_path))
    get_settings.cache_clear()
    code, out, _ = run_cli(["chat", "--list"], capsys)
    assert code == 0 and "no saved sessions yet" in out
    assert not (tmp_path / "sessions.sqlite").exists()  # listing creates nothing

    path = tmp_path / "sessions.sqlite"
    model = ScriptedChatModel(script=[lambda m: "fine"], cycle=True)
    for name, turns in (("week1", 1), ("week2", 3)):
        session = ChatSession(build_agent(model, [], open_checkpointer(path)), name=name, registry=SessionRegistry.open(path))
        for i in range(turns):
            session.ask(f"hi {i}")
    infos = {info.name: info for info in list_sessions(path)}
    assert {n: i.messages for n, i in infos.items()} == {"week1": 2, "week2": 6}
    assert infos["week2"].last_used >= infos["week2"].started

    code, out, _ = run_cli(["chat", "--list"], capsys)
    rows = [line.split() for line in out.splitlines()[1:]]
    assert code == 0 and [r[:2] for r in rows] == [["week1", "2"], ["week2", "6"]]

    code, out, err = run_cli(["chat", "--delete", "week1"], capsys)
    assert code == 0 and out.strip() == "deleted session week1", err
    assert [i.name for i in list_sessions(path)] == ["week2"]
    assert saved_messages(path, "week1") == []  # the conversation went too

    code, _, err = run_cli(["chat", "--delete", "week9"], capsys)
    assert code == 2 and "no saved session 'week9'" in err and "week2" in err
    with pytest.raises(Exception, match="no saved session"):
        delete_session("week1", path)


def test_the_repl_lists_sessions(tmp_path, monkeypatch):
    import io

    from genlab.agents.repl import Renderer, Repl
    from genlab.settings import get_settings

    monkeypatch.setenv("GENLAB_HOME", str(tmp_path))
    get_settings.cache_clear()
    path = tmp_path / "sessions.sqlite"
    model = ScriptedChatModel(script=[lambda m: "fine"], cycle=True)
    session = ChatSession(build_agent(model, [], open_checkpointer(path)), name="mine", registry=SessionRegistry.open(path))
    lines = iter(["hello", "/sessions"])
    out = io.StringIO()

    def read() -> str:
        try:
            return next(lines)
        except StopIteration:
            raise EOFError from None

    assert Repl(session, read, Renderer(out), errors=io.StringIO()).run() == 0
    assert any(line.split()[:2] == ["mine", "2"] for line in out.getvalue().splitlines())


def test_a_very_long_session_name_is_cut_in_the_message(capsys):
    code, _, err = run_cli(["chat", "--session", "x" * 10_000], capsys)
    assert code == 2
    assert len(err) < 400 and "10,000 characters" in err and "letters, digits" in err
