"""The commands print only genlab's own output: no library bars or warnings, unless asked for.

Real `genlab` processes on the tiny models, with the environment a user has: none of the
variables conftest sets to quiet the libraries in-process (TRANSFORMERS_VERBOSITY,
HF_HUB_DISABLE_PROGRESS_BARS...), so without genlab.logs the transformers "Loading weights"
bar, the torchvision fallback warning and the generation-config warnings would show.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

QUIETING = ("TRANSFORMERS_VERBOSITY", "DIFFUSERS_VERBOSITY", "HF_HUB_DISABLE_PROGRESS_BARS", "TRANSFORMERS_NO_ADVISORY_WARNINGS")


def _run(args: list[str], env_extra: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENLAB_") and k not in QUIETING}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-m", "genlab.cli", *args], input=stdin, capture_output=True, text=True, env=env, timeout=300
    )


@pytest.fixture
def user_env(tiny_models, tmp_path: Path) -> dict[str, str]:
    return {**tiny_models.env(), "GENLAB_HOME": str(tmp_path / "home")}


COMMANDS = {
    "image": (["image", "a fox", "--width", "64", "--height", "64", "--steps", "2", "--seed", "1", "--json"], None),
    "music": (["music", "calm piano", "--duration", "0.2", "--seed", "1", "--json"], None),
    "summarize": (["summarize", "-", "--json"], "Diffusion models add noise to images. They learn to remove it step by step."),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_stderr_is_empty_on_success(name: str, user_env: dict[str, str]) -> None:
    args, stdin = COMMANDS[name]
    proc = _run(args, user_env, stdin)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    json.loads(proc.stdout)  # stdout is still the one JSON document


@pytest.mark.slow
def test_debug_and_log_level_bring_the_libraries_back(user_env: dict[str, str]) -> None:
    args, stdin = COMMANDS["summarize"]
    debug = _run(["--debug", *args], user_env, stdin)
    assert debug.returncode == 0, debug.stderr
    assert "[transformers]" in debug.stderr and "Loading weights" in debug.stderr
    warning = _run(args, {**user_env, "GENLAB_LOG_LEVEL": "warning"}, stdin)
    assert warning.returncode == 0, warning.stderr
    assert "Loading weights" in warning.stderr


def test_a_bad_log_level_is_one_line(user_env: dict[str, str]) -> None:
    proc = _run(["summarize", "-"], {**user_env, "GENLAB_LOG_LEVEL": "loud"}, "Some text to summarize here.")
    assert proc.returncode == 2
    assert proc.stderr.startswith("genlab: error: invalid setting GENLAB_LOG_LEVEL") and proc.stderr.count("\n") == 1
