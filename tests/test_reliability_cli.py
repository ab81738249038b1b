"""The CLI in a hostile environment: remote code, empty and ``~`` settings, Ctrl-C, closed
pipes, a full disk, a BOM, ``--version``. Real subprocesses where the behaviour is the
process's (signals, pipes, mounts)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from cli_runner import run_cli

from genlab.settings import Settings, get_settings


def genlab_cmd() -> list[str]:
    return [sys.executable, "-m", "genlab.cli"]


def subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


# --- remote code --------------------------------------------------------------------------


@pytest.fixture
def remote_code_model(tmp_path: Path) -> Path:
    """A model folder whose loading would run its own Python (it would print a marker)."""
    folder = tmp_path / "custom-model"
    folder.mkdir()
    (folder / "config.json").write_text(
        '{"model_type": "genlab-test-custom", "architectures": ["CustomForCausalLM"], '
        '"auto_map": {"AutoConfig": "configuration_custom.CustomConfig", '
        '"AutoModelForCausalLM": "modeling_custom.CustomForCausalLM"}}'
    )
    for name in ("configuration_custom.py", "modeling_custom.py"):
        (folder / name).write_text("print('REMOTE CODE RAN')\nraise SystemExit(99)\n")
    return folder


def test_a_genlab_toml_in_the_current_folder_cannot_enable_remote_code(tmp_path, remote_code_model, monkeypatch, capsys):
    repo = tmp_path / "cloned-repo"
    repo.mkdir()
    (repo / "genlab.toml").write_text(f'trust_remote_code = true\ntext_model = "{remote_code_model}"\n')
    monkeypatch.chdir(repo)
    get_settings.cache_clear()
    assert Settings().trust_remote_code is False
    assert Settings().text_model == str(remote_code_model)  # the rest of the file still counts

    code, out, err = run_cli(["models", "--load", "text"], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and "REMOTE CODE RAN" not in out + err
    assert lines[0].startswith("genlab: warning: ignoring trust_remote_code in ")
    assert "cannot enable remote code" in lines[0]
    assert lines[1].startswith("genlab: error: ") and "GENLAB_TRUST_REMOTE_CODE=1 or --trust-remote-code" in lines[1]


@pytest.mark.parametrize(
    "how",
    ["environment", "flag", "named-config-file"],
)
def test_remote_code_is_enabled_by_the_environment_a_flag_or_a_named_file(how, tmp_path, monkeypatch, capsys):
    from genlab.cli import main

    if how == "environment":
        monkeypatch.setenv("GENLAB_TRUST_REMOTE_CODE", "1")
    elif how == "named-config-file":
        (tmp_path / "mine.toml").write_text("trust_remote_code = true\n")
        monkeypatch.setenv("GENLAB_CONFIG", str(tmp_path / "mine.toml"))
    else:
        monkeypatch.setenv("GENLAB_TRUST_REMOTE_CODE", "0")  # the flag wins; teardown restores the variable
    get_settings.cache_clear()
    seen = {}

    def spy(roles):
        seen["trust"] = get_settings().trust_remote_code
        return []

    monkeypatch.setattr("genlab.models.status.load_roles", spy)
    args = ["--trust-remote-code", "models", "--load", "text"] if how == "flag" else ["models", "--load", "text"]
    try:
        main(args)
    except SystemExit as exc:
        assert exc.code in (0, None), capsys.readouterr().err
    assert seen["trust"] is True


def test_remote_code_is_off_by_default_and_named_in_the_error(remote_code_model, monkeypatch, capsys):
    monkeypatch.setenv("GENLAB_TEXT_MODEL", str(remote_code_model))
    get_settings.cache_clear()
    code, out, err = run_cli(["models", "--load", "text"], capsys)
    assert code == 2 and "REMOTE CODE RAN" not in out + err
    assert "runs its own Python code" in err and "genlab-test-custom" in err


# --- empty settings, ~ ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["GENLAB_HOME", "GENLAB_OUTPUT_DIR", "GENLAB_CHAT_FACTORY", "GENLAB_DEVICE", "GENLAB_CONFIG"])
@pytest.mark.parametrize("empty", ["", "   "])
def test_an_empty_variable_means_unset(name, empty, monkeypatch, tmp_path):
    monkeypatch.delenv("GENLAB_HOME")
    monkeypatch.chdir(tmp_path)
    default = Settings()
    monkeypatch.setenv(name, empty)
    settings = Settings()
    assert settings.home == default.home and settings.home.is_absolute() and settings.home != tmp_path
    assert settings.outputs == default.outputs
    assert settings.chat_factory is None
    assert settings.device == "auto"


def test_tilde_expands_in_the_environment_and_in_genlab_toml(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    (tmp_path / "me").mkdir()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "genlab.toml").write_text('home = "~/genlab-home"\noutput_dir = "~/art"\n')
    monkeypatch.delenv("GENLAB_HOME")
    settings = Settings()
    assert settings.home == tmp_path / "me" / "genlab-home"
    assert settings.outputs == tmp_path / "me" / "art"
    monkeypatch.setenv("GENLAB_HOME", "~/from-env")
    monkeypatch.setenv("GENLAB_CONFIG", "~/../genlab.toml")
    assert Settings().home == tmp_path / "me" / "from-env"
    assert not any(p.name == "~" for p in tmp_path.rglob("*"))


# --- the command line -----------------------------------------------------------------------


def test_version_and_no_command(capsys):
    from genlab import __version__

    code, out, err = run_cli(["--version"], capsys)
    assert code == 0 and out.strip() == f"genlab {__version__}" and err == ""
    code, out, err = run_cli([], capsys)
    assert code == 0 and out.startswith("Usage: genlab") and "chat" in out and err == ""
    done = subprocess.run([*genlab_cmd(), "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == f"genlab {__version__}"


def _wait_until_reading_stdin(pid: int, timeout: float = 120) -> None:
    """Wait until the process blocks reading its stdin pipe (so Ctrl-C lands in a command)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            wchan = Path(f"/proc/{pid}/wchan").read_text()
        except OSError:
            wchan = ""
        if "pipe_read" in wchan or "pipe_wait" in wchan:
            return
        time.sleep(0.2)
    raise AssertionError(f"process {pid} never waited on stdin (wchan {wchan!r})")


@pytest.mark.skipif(not Path("/proc/self/wchan").exists(), reason="needs /proc/PID/wchan (Linux)")
def test_ctrl_c_prints_interrupted_and_exits_130(tmp_path):
    proc = subprocess.Popen(
        [*genlab_cmd(), "summarize", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(GENLAB_HOME=str(tmp_path)),
    )
    try:
        _wait_until_reading_stdin(proc.pid)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert err.strip().splitlines() == ["genlab: error: interrupted"] and out == ""


CHAT_FACTORY = textwrap.dedent(
    """
    from genlab.testing import ScriptedChatModel

    def make(model=None):
        return ScriptedChatModel(script=[lambda m: "a line of answer\\n" * 50], cycle=True)
    """
)


@pytest.mark.slow
def test_a_closed_pipe_ends_quietly(tmp_path):
    (tmp_path / "pipe_factory.py").write_text(CHAT_FACTORY)
    env = subprocess_env(
        PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
        GENLAB_CHAT_FACTORY="pipe_factory:make",
        GENLAB_HOME=str(tmp_path / "home"),
    )
    command = " ".join(genlab_cmd())
    script = f'yes hello | head -200 | {command} chat 2>{tmp_path}/err | head -1; echo "${{PIPESTATUS[2]}}"'
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=300)
    first, status = done.stdout.splitlines()
    assert first == "a line of answer"
    assert status == "141"  # like a tool killed by SIGPIPE
    assert (tmp_path / "err").read_text() == ""


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mkdir -p /tmp/genlab-probe && mount -t tmpfs -o size=4k tmpfs /tmp/genlab-probe"],
        capture_output=True,
    )
    return probe.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _unshare_works(), reason="needs unprivileged user and mount namespaces (unshare -rm)")
def test_a_full_disk_while_writing_an_image(tiny_models, tmp_path):
    out = tmp_path / "full"
    out.mkdir()
    command = " ".join([*genlab_cmd(), "image", "'a fox'", "--width", "64", "--height", "64", "--steps", "2", "--seed", "1"])
    # A 4 KiB tmpfs in a private mount namespace: a real ENOSPC, gone when the shell ends.
    script = f"mount -t tmpfs -o size=4k tmpfs {out} && {command}; code=$?; ls -A {out}; exit $code"
    done = subprocess.run(
        ["unshare", "-rm", "bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env=subprocess_env(GENLAB_IMAGE_MODEL=str(tiny_models.image), GENLAB_OUTPUT_DIR=str(out), GENLAB_HOME=str(tmp_path)),
    )
    assert done.returncode == 2, done.stderr
    # (Libraries' loading bars are issue 17's; genlab's own output is the one line.)
    lines = [line for line in done.stderr.strip().splitlines() if line.startswith("genlab:") or "Traceback" in line]
    assert len(lines) == 1 and lines[0].startswith("genlab: error: no space left in "), done.stderr
    assert "nothing was written" in lines[0] and ".png" in lines[0]
    assert done.stdout.strip() == ""  # no partial file left in the folder


@pytest.mark.slow
def test_a_questions_file_with_a_bom(tmp_path, capsys):
    import json

    questions = tmp_path / "questions.txt"
    questions.write_bytes("\ufeffWhat is a GAN?\nWhat is diffusion?\n".encode())
    code, out, err = run_cli(["ask", "--questions", str(questions), "--json"], capsys)
    assert code == 0, err
    asked = [json.loads(line)["question"] for line in out.splitlines()]
    assert asked == ["What is a GAN?", "What is diffusion?"]


def test_cancelling_a_chat_turn_logs_no_callback_error(caplog):
    import logging

    from genlab.agents import ChatSession, build_agent
    from genlab.testing import ScriptedChatModel

    session = ChatSession(build_agent(ScriptedChatModel(script=["word " * 200], delay=0.01), []))
    with caplog.at_level(logging.WARNING):
        events = session.stream("hi")
        for count, _ in enumerate(events):
            if count == 3:
                break  # what Ctrl-C does in the REPL
        events.close()
        assert session.wait(30)
    assert [r.getMessage() for r in caplog.records if "callback" in r.getMessage()] == []
