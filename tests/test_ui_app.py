"""The web app's pieces without a browser: tab handlers on tiny models, chat rendering, errors, the command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import run_cli

gr = pytest.importorskip("gradio")

from genlab.agents.session import TextDelta, ToolCallEvent, ToolResultEvent, TurnEnd  # noqa: E402
from genlab.errors import InvalidInputError, ModelUnavailableError  # noqa: E402
from genlab.ui import ask, chat, models, story, studio  # noqa: E402
from genlab.ui.errors import error_line, shows_errors  # noqa: E402

API_NAMES = {"ask", "chat", "story", "image", "music", "summarize", "classify", "models"}


class NoProgress:
    """Stands in for gr.Progress outside an event (Gradio's own needs a running request)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __call__(self, value, desc=None, total=None, unit="steps"):
        self.calls.append((value, desc, unit))


# --------------------------------------------------------------------------------------
# The app, the command, the lazy import
# --------------------------------------------------------------------------------------


def test_every_event_has_its_stable_api_name():
    from genlab.ui.app import build_app

    demo = build_app()
    names = {fn.api_name for fn in demo.fns.values() if fn.api_visibility == "public"}
    assert API_NAMES <= names
    tabs = [block.label for block in demo.blocks.values() if isinstance(block, gr.Tab)]
    assert {"Chat", "Ask", "Story", "Studio", "Models", "Image", "Music", "Summarize", "Classify"} <= set(tabs)


def test_import_genlab_and_help_do_not_import_gradio_and_help_lists_ui():
    probe = (
        "import sys\nfrom genlab.cli import main\nsys.argv=['genlab','--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\nprint('gradio' in sys.modules, 'genlab.ui.app' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False False"
    assert "  ui " in out.stdout


def test_ui_without_gradio_says_which_pip_install_and_exits_2(capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gradio" else real(name, *a))
    code, out, err = run_cli(["ui"], capsys)
    assert code == 2
    assert err == 'genlab: error: the web app needs Gradio, which is not installed: pip install "genlab[ui]"\n'


def test_ui_rejects_a_bad_session_name_before_starting(capsys):
    code, _, err = run_cli(["ui", "--session", "../etc"], capsys)
    assert code == 2 and err.startswith("genlab: error: session name '../etc' is not allowed")


def test_ui_on_a_port_in_use_is_one_line_exit_2(capsys, tmp_path, monkeypatch):
    import socket

    monkeypatch.setenv("GENLAB_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = run_cli(["ui", "--port", str(port)], capsys)
    assert code == 2
    assert err == (
        f"genlab: error: cannot listen on 127.0.0.1:{port}: the port is in use or the address is not this machine's; "
        "pass another --port or --host\n"
    )


# --------------------------------------------------------------------------------------
# Errors: the CLI's line in a gr.Error, the app goes on
# --------------------------------------------------------------------------------------


def test_genlab_errors_become_the_clis_line_and_others_a_short_note():
    @shows_errors
    def bad_input():
        raise InvalidInputError("k must be 1 to 50, got 0")

    @shows_errors
    def bug():
        raise KeyError("oops")

    @shows_errors
    def streaming():
        yield 1
        raise ModelUnavailableError("image", "nope/model", "not on disk")

    with pytest.raises(gr.Error) as caught:
        bad_input()
    assert caught.value.message == "k must be 1 to 50, got 0"
    with pytest.raises(gr.Error) as caught:
        bug()
    assert caught.value.message.startswith("unexpected KeyError: 'oops' (a bug in genlab")
    steps = streaming()
    assert next(steps) == 1
    with pytest.raises(gr.Error) as caught:
        next(steps)
    line = error_line(ModelUnavailableError("image", "nope/model", "not on disk"))
    assert line.startswith("image model 'nope/model' is not available: not on disk; ")
    assert caught.value.message == line


def test_an_error_is_escaped_so_input_in_it_cannot_become_html():
    @shows_errors
    def echo():
        raise InvalidInputError("unknown label <img src=x onerror=alert(1)>")

    with pytest.raises(gr.Error) as caught:
        echo()
    assert "<img" not in caught.value.message and "&lt;img" in caught.value.message


# --------------------------------------------------------------------------------------
# Ask, Studio, Story, Models on tiny models
# --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_ask_answers_with_citations_and_expandable_escaped_sources():
    answer, sources = ask.ask("How do GANs differ from diffusion models?", 3, "faiss", False, NoProgress())
    assert "[1]" in answer
    assert sources.count("<details") == 3 and "[1] " in sources and ".md</code>" in sources


def test_sources_html_escapes_passages():
    shown = ask.sources_html([{"source": "a.md", "title": "T", "section": "S", "score": 0.5, "text": "x <script>y</script>"}])
    assert "<script>" not in shown and "&lt;script&gt;" in shown and "[1] T &gt; S" in shown


def test_ask_rejects_an_empty_question_with_the_clis_line(capsys):
    with pytest.raises(gr.Error) as caught:
        ask.ask("   ", 4, "faiss", False, NoProgress())
    code, _, err = run_cli(["ask", "   "], capsys)
    assert code == 2 and err == f"genlab: error: {caught.value.message}\n"


@pytest.mark.slow
def test_image_saves_pngs_in_the_output_folder_and_shows_their_metadata(tiny_env, tmp_path, monkeypatch):
    from genlab.settings import get_settings

    monkeypatch.setenv("GENLAB_OUTPUT_DIR", str(tmp_path))
    get_settings.cache_clear()
    progress = NoProgress()
    gallery, metadata = studio.image("a red fox", "", 64, 64, 2, 7.5, 11, 2, progress)
    assert [Path(p).parent for p, _ in gallery] == [tmp_path, tmp_path]
    assert [caption for _, caption in gallery] == ["seed 11, 64x64, 2 steps", "seed 12, 64x64, 2 steps"]
    first = metadata[Path(gallery[0][0]).name]
    assert first["prompt"] == "a red fox" and first["seed"] == "11" and first["software"] == "genlab"
    assert progress.calls[-1][0] == (4, 4) and progress.calls[-1][1] == "denoising"


def test_bad_image_input_is_the_clis_line_and_nothing_is_written(tmp_path, monkeypatch, capsys):
    from genlab.settings import get_settings

    monkeypatch.setenv("GENLAB_OUTPUT_DIR", str(tmp_path / "out"))
    get_settings.cache_clear()
    with pytest.raises(gr.Error) as caught:
        studio.image("a fox", "", 64, 64, 0, 7.5, None, 1, NoProgress())
    code, _, err = run_cli(["image", "a fox", "--steps", "0"], capsys)
    assert code == 2 and err == f"genlab: error: {caught.value.message}\n"
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.slow
def test_music_writes_a_wav_in_the_output_folder_with_progress(tiny_env, tmp_path, monkeypatch):
    from genlab.settings import get_settings

    monkeypatch.setenv("GENLAB_OUTPUT_DIR", str(tmp_path))
    get_settings.cache_clear()
    progress = NoProgress()
    path, made = studio.music("calm piano", 0.5, 5, progress)
    assert Path(path).parent == tmp_path and path.endswith(".wav") and Path(path).stat().st_size > 44
    assert made["seed"] == 5 and made["prompt"] == "calm piano"
    done, total = progress.calls[-1][0]
    assert done == total > 0 and progress.calls[-1][2] == "audio tokens"


@pytest.mark.slow
def test_summarize_text_or_an_uploaded_file_but_not_both(tiny_env, tmp_path):
    text = "Diffusion models learn to remove noise from images step by step. " * 5
    assert isinstance(studio.summarize(text, None, 20), str)
    upload = tmp_path / "notes.txt"
    upload.write_text(text)
    assert isinstance(studio.summarize("", str(upload), None), str)
    with pytest.raises(gr.Error, match="not both"):
        studio.summarize(text, str(upload), None)
    binary = tmp_path / "notes.bin"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(gr.Error, match="not UTF-8"):
        studio.summarize("", str(binary), None)


@pytest.mark.slow
def test_classify_scores_every_label_best_first(tiny_env):
    scores = studio.classify("I loved this course", "positive, negative, neutral", False)
    assert set(scores) == {"positive", "negative", "neutral"}
    assert list(scores.values()) == sorted(scores.values(), reverse=True)
    assert abs(sum(scores.values()) - 1) < 1e-4


@pytest.mark.slow
def test_story_shows_each_attempt_with_its_verdict(tiny_env):
    attempts, approved, picture, music = story.story(
        "forest", "fox", "stone", "glows", "looks around", "home again", 0, False, False, False, NoProgress()
    )
    assert attempts.startswith("**Attempt 1: ")
    assert "approved" in attempts or "rejected" in attempts
    assert approved and picture is None and music is None


def test_models_rows_follow_role_status_fields(tiny_env):
    from genlab.models.status import RoleStatus

    rows = models.statuses()
    columns = list(RoleStatus.model_fields)
    by_role = {row[columns.index("role")]: row for row in rows}
    assert by_role["image"][columns.index("available")] == "yes"
    assert by_role["music"][columns.index("model")] == str(tiny_env.music)


# --------------------------------------------------------------------------------------
# Chat: events to Chatbot messages, sessions
# --------------------------------------------------------------------------------------


def test_a_turn_becomes_a_tool_step_an_answer_inline_media_and_cited_sources(tmp_path):
    png = tmp_path / "fox.png"
    png.write_bytes(b"\x89PNG")
    history: list[dict] = []
    view = chat.TurnView(history)
    view.user("what are GANs? and draw a fox")
    view.add(ToolCallEvent(name="search_course", args={"query": "GANs"}, id="c1"))
    assert history[-1]["metadata"]["status"] == "pending"
    passages = "[1] Intro > GANs (intro.md)\ntext\n\n[2] Other > X (x.md)\nmore"
    view.add(ToolResultEvent(name="search_course", content=passages, id="c1"))
    view.add(ToolCallEvent(name="generate_image", args={"prompt": "fox"}, id="c2"))
    made = json.dumps({"images": [{"path": str(png)}, {"path": "/nope.png"}]})
    view.add(ToolResultEvent(name="generate_image", content=made, id="c2"))
    view.add(TextDelta(text="GANs pit two networks "))
    view.add(TextDelta(text="against each other [1]."))
    view.add(TurnEnd(answer="GANs pit two networks against each other [1]."))
    assert history[0] == {"role": "user", "content": "what are GANs? and draw a fox"}
    step = history[1]
    assert step["metadata"]["title"] == "Tool: search_course" and step["metadata"]["status"] == "done"
    assert 'query="GANs"' in step["content"] and "[1] Intro > GANs (intro.md)" in step["content"]
    assert history[3] == {"role": "assistant", "content": {"path": str(png)}}  # the existing file only
    assert history[4] == {"role": "assistant", "content": "GANs pit two networks against each other [1]."}
    assert history[5]["content"] == "**Sources**\n\n- [1] Intro > GANs (intro.md)"  # cited ones only
    assert len(history) == 6


def test_a_failed_tool_is_marked_and_a_stopped_turn_ends_its_steps():
    history: list[dict] = []
    view = chat.TurnView(history)
    view.add(ToolCallEvent(name="generate_image", args={"prompt": "x"}, id="a"))
    view.add(ToolResultEvent(name="generate_image", content="steps: must be 1 to 200", error=True, id="a"))
    assert history[0]["metadata"]["title"] == "Tool: generate_image (failed)" and "Error: steps" in history[0]["content"]
    view.add(ToolCallEvent(name="summarize", args={"text": "x"}, id="b"))
    view.stopped()
    assert history[1]["metadata"]["status"] == "done" and history[1]["metadata"]["log"] == "cancelled"
    assert history[-1]["content"] == "*(stopped)*"


def test_browser_sessions_get_distinct_names_that_are_valid_session_names():
    from genlab.agents.memory import check_session_name

    names = {chat.new_session_name() for _ in range(20)}
    assert len(names) == 20
    for name in names:
        check_session_name(name)


@pytest.mark.slow
def test_chat_streams_a_turn_and_a_session_resumes_by_name(monkeypatch, tmp_path):
    factory = tmp_path / "ui_unit_factory.py"
    factory.write_text(
        "from genlab.testing import ScriptedChatModel\n"
        "def make(model=None):\n"
        "    return ScriptedChatModel(script=[lambda m: 'Echo: ' + m[-1].text], cycle=True)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("GENLAB_CHAT_FACTORY", "ui_unit_factory:make")
    from genlab.settings import get_settings

    get_settings.cache_clear()
    state = chat.ChatState("ui-unit-resume")
    updates = list(chat.chat("hello there", state))
    history, box, state, status = updates[-1]
    assert box == "" and history[-1] == {"role": "assistant", "content": "Echo: hello there"}
    assert "2 messages" in status
    assert len(updates) >= 2  # the user's message shows before the answer
    resumed, status, shown = chat.open_session("ui-unit-resume", None)
    assert resumed is not state and shown == history
    _, name, _, opened = chat.start("ui-unit-resume")  # `genlab ui --session ui-unit-resume`
    assert name == "ui-unit-resume" and opened == history
    with pytest.raises(gr.Error, match="session name"):
        chat.open_session("bad name!", None)
    with pytest.raises(gr.Error, match="the message is empty"):
        list(chat.chat("  ", state))
