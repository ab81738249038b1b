"""`genlab chat`: the REPL in-process (plain output) and as a real subprocess in a pty.

The subprocesses get their chat model from GENLAB_CHAT_FACTORY, a documented hook naming a
function that returns a LangChain chat model; here it returns a scripted model whose replies
depend on the conversation. The tools behind it are the real ones.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from genlab.agents import DEFAULT_TOOL_NAMES, ChatSession, build_agent
from genlab.agents.repl import Renderer, Repl
from genlab.testing import ScriptedChatModel, last_tool_result, tool_call_message

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")

FACTORY = textwrap.dedent(
    '''
    """Scripted chat model for the REPL tests (GENLAB_CHAT_FACTORY=repl_factory:make)."""
    from langchain_core.messages import HumanMessage, ToolMessage
    from genlab.testing import ScriptedChatModel, last_tool_result, tool_call_message

    def policy(messages):
        last = messages[-1]
        if isinstance(last, ToolMessage):
            first_passage = last_tool_result(messages).splitlines()[0]  # "[1] title > section (source)"
            return "From the course notes: " + first_passage
        text = last.text
        if "course" in text:
            return tool_call_message("search_course", query=text)
        if "slow" in text:
            return "this answer takes a long time to write " * 3
        heard = sum(isinstance(m, HumanMessage) for m in messages)
        return f"**Echo** number {heard}: {text}"

    def make(model=None):
        return ScriptedChatModel(script=[policy], cycle=True, delay=0.0)

    def make_slow(model=None):
        return ScriptedChatModel(script=[policy], cycle=True, delay=0.1)
    '''
)


@pytest.fixture
def chat_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a `genlab chat` subprocess with the scripted model factory."""
    (tmp_path / "repl_factory.py").write_text(FACTORY)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    env["GENLAB_CHAT_FACTORY"] = "repl_factory:make"
    env["PROMPT_TOOLKIT_NO_CPR"] = "1"  # pexpect's pty does not answer cursor-position queries
    env["TERM"] = "xterm"
    return env


def genlab_cmd() -> list[str]:
    return [sys.executable, "-m", "genlab.cli"]


# --------------------------------------------------------------------------------------
# In-process: the loop, slash commands and errors, with plain output
# --------------------------------------------------------------------------------------


def run_repl(session: ChatSession, lines: list[str]) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    feed = iter(lines)

    def read_line() -> str:
        try:
            return next(feed)
        except StopIteration:
            raise EOFError from None

    code = Repl(session, read_line, Renderer(out), errors=err).run()
    return out.getvalue(), err.getvalue(), code


def test_repl_commands_and_a_turn_with_a_tool_trace():
    from langchain_core.tools import tool

    @tool
    def lookup(key: str) -> str:
        """Look a key up in a tiny table.

        More text that /tools does not show."""
        return "value-of-" + key

    model = ScriptedChatModel(script=[tool_call_message("lookup", key="alpha"), lambda m: "The answer is " + last_tool_result(m)])
    session = ChatSession(build_agent(model, [lookup]), name="demo", tools=[lookup])
    out, err, code = run_repl(
        session, ["/help", "/tools", "", "/nope", "what is alpha?", "/session", "/reset", "/session", "/exit", "never read"]
    )
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert "/reset" in out and "Ctrl-C" in out  # help
    assert "  lookup  Look a key up in a tiny table." in lines
    assert "More text" not in out
    assert "unknown command /nope; /help lists the commands" in lines
    assert '[tool] lookup(key="alpha")' in lines
    assert "[tool] lookup -> ok: value-of-alpha" in lines
    assert "The answer is value-of-alpha" in lines
    assert "session demo: 4 messages (not saved; use --session NAME to keep it)" in lines
    assert "session demo: 0 messages (not saved; use --session NAME to keep it)" in lines
    assert lines.index("[tool] lookup -> ok: value-of-alpha") < lines.index("The answer is value-of-alpha")


def test_a_failing_turn_prints_one_error_line_and_the_repl_goes_on():
    def crash(messages):
        raise RuntimeError("model fell over")

    model = ScriptedChatModel(script=[crash, "I am fine again"])
    session = ChatSession(build_agent(model, []))
    out, err, code = run_repl(session, ["first", "second"])
    assert code == 0
    assert err.splitlines() == [
        "error: unexpected RuntimeError: model fell over (the session goes on; --debug shows the traceback)"
    ]
    assert "I am fine again" in out.splitlines()


def test_end_of_input_leaves_cleanly():
    session = ChatSession(build_agent(ScriptedChatModel(script=["partial answer without newline"]), []))
    out, _, code = run_repl(session, ["hi"])
    assert code == 0 and out == "partial answer without newline\n"


# --------------------------------------------------------------------------------------
# Subprocess: piped (plain text) and in a pty (terminal)
# --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_piped_chat_prints_plain_text_and_saves_the_session(chat_env):
    def chat(stdin: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*genlab_cmd(), "chat", "--session", "piped"], input=stdin, env=chat_env, capture_output=True, text=True, timeout=180
        )

    first = chat("hello there\n/session\n")
    assert first.returncode == 0, first.stderr
    assert "**Echo** number 1: hello there" in first.stdout.splitlines()  # markdown source, not rendered
    assert not ANSI.search(first.stdout)
    assert "session piped: 2 messages (saved)" in first.stdout.splitlines()

    second = chat("and again\n")  # a new process resumes the saved conversation
    assert second.returncode == 0, second.stderr
    assert "**Echo** number 2: and again" in second.stdout.splitlines()


@pytest.mark.slow
def test_chat_without_a_usable_model_says_how_to_configure_one(chat_env, tmp_path):
    env = dict(chat_env)
    env.pop("GENLAB_CHAT_FACTORY")
    env["GENLAB_CHAT_MODEL"] = str(tmp_path / "no-such-model")
    out = subprocess.run([*genlab_cmd(), "chat"], input="hi\n", env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "GENLAB_CHAT_MODEL" in lines[0]
    assert "Traceback" not in out.stderr

    env["GENLAB_CHAT_FACTORY"] = "no_such_module_abc:make"
    out = subprocess.run([*genlab_cmd(), "chat"], input="hi\n", env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "GENLAB_CHAT_FACTORY" in lines[0]


class Terminal:
    """A `genlab chat` subprocess in a pty, read with ANSI codes stripped."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        import pexpect

        self.pexpect = pexpect
        self.child = pexpect.spawn(args[0], args[1:], env=env, encoding="utf-8", dimensions=(50, 220), timeout=120)
        self.seen = ""

    def expect(self, pattern: str, timeout: float = 120) -> re.Match[str]:
        """Wait until the screen text since the last match contains ``pattern`` (a regex)."""
        regex = re.compile(pattern)
        while True:
            match = regex.search(self.seen)
            if match:
                self.seen = self.seen[match.end() :]
                return match
            self.child.expect([r"[\s\S]+", self.pexpect.EOF], timeout=timeout)
            if self.child.after is self.pexpect.EOF:
                raise AssertionError(f"process ended before {pattern!r}; last output: {self.seen[-500:]!r}")
            self.seen += ANSI.sub("", self.child.after)

    def prompt(self) -> None:
        self.expect(r"you>")

    def send(self, line: str) -> None:
        self.child.sendline(line)


@pytest.mark.slow
def test_the_repl_in_a_terminal(chat_env):
    env = dict(chat_env, GENLAB_CHAT_FACTORY="repl_factory:make_slow")
    term = Terminal([*genlab_cmd(), "chat"], env)
    term.expect(r"genlab chat - session scratch")
    term.prompt()

    term.send("/tools")
    for name in DEFAULT_TOOL_NAMES:
        term.expect(name)
    term.prompt()

    term.send("what does the course say about diffusion models?")
    term.expect(r"→ search_course\(query=")
    term.expect(r"← search_course: ")
    term.expect(r"From the course notes:")
    term.prompt()

    term.send("a slow one please")
    term.expect(r"this answer takes a long time")
    term.child.sendintr()  # Ctrl-C during the turn
    term.expect(r"\(cancelled\)")
    term.prompt()

    term.send("still alive?")
    term.expect(r"Echo number \d+: still alive\?")
    term.prompt()

    term.send("/session")
    term.expect(r"session scratch: \d+ messages \(not saved")
    term.prompt()
    term.send("/reset")
    term.expect(r"Started a new conversation")
    term.prompt()
    term.send("/session")
    term.expect(r"session scratch: 0 messages")
    term.prompt()

    term.send("/exit")
    term.child.expect(term.pexpect.EOF, timeout=60)
    term.child.close()
    assert term.child.exitstatus == 0


@pytest.mark.slow
def test_ctrl_d_leaves_the_terminal_repl(chat_env):
    term = Terminal([*genlab_cmd(), "chat"], chat_env)
    term.prompt()
    term.child.send("half a line")
    term.child.sendcontrol("c")  # at the prompt: drops the line, does not exit
    term.send("/session")
    term.expect(r"session scratch: 0 messages")
    term.prompt()
    term.child.sendeof()
    term.child.expect(term.pexpect.EOF, timeout=60)
    term.child.close()
    assert term.child.exitstatus == 0
