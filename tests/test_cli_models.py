"""`genlab models` and the CLI's error contract (exit codes, one line, no traceback)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cli_runner import run_cli


def test_models_lists_every_role_with_availability(capsys, tiny_env):
    code, out, _ = run_cli(["models", "--json"], capsys)
    assert code == 0
    rows = {r["role"]: r for r in json.loads(out)["roles"]}
    assert set(rows) == {"text", "chat", "summary", "zero_shot", "few_shot", "image", "music", "embedding"}
    assert all(r["available"] for r in rows.values())
    assert rows["summary"]["detail"].startswith("seq2seq on cpu")


def test_models_load_reports_what_was_loaded(capsys, tiny_env):
    code, out, _ = run_cli(["models", "--load", "summary", "--json"], capsys)
    assert code == 0
    (loaded,) = json.loads(out)["loaded"]
    assert loaded["kind"] == "seq2seq" and loaded["bytes"] > 0


@pytest.mark.parametrize(
    ("env", "args", "needle"),
    [
        ({"GENLAB_SUMMARY_MODEL": "/definitely/not/here"}, ["models", "--load", "summary"], "no such folder"),
        ({"GENLAB_MUSIC_MODEL": "nobody/no-such-model"}, ["models", "--load", "music"], "not in the local Hugging Face cache"),
        ({"GENLAB_DEVICE": "tpu"}, ["models"], "GENLAB_DEVICE"),
        ({}, ["models", "--load", "video"], "roles are"),
        ({}, ["no-such-command"], "No such command"),
        ({}, ["models", "--no-such-option"], "No such option"),
    ],
)
def test_errors_are_one_line_with_exit_code_2(capsys, monkeypatch, env, args, needle):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, out, err = run_cli(list(args), capsys)
    assert code == 2
    assert needle in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert out == ""


def test_a_real_process_exits_2_without_traceback(tmp_path):
    env = {"PATH": "", "HOME": str(tmp_path), "GENLAB_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "genlab.cli", "models", "--load", "image"],
        capture_output=True,
        text=True,
        env={**env, "GENLAB_IMAGE_MODEL": str(tmp_path)},
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("genlab: error: image model") and "Traceback" not in proc.stderr


def test_unexpected_errors_exit_1_and_debug_shows_the_traceback(capsys, monkeypatch):
    import genlab.models.status as status

    def boom():
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(status, "role_statuses", boom)
    code, _, err = run_cli(["models"], capsys)
    assert code == 1 and "disk on fire" in err and "--debug" in err and "Traceback" not in err
    code, _, err = run_cli(["--debug", "models"], capsys)
    assert code == 1 and "Traceback" in err
