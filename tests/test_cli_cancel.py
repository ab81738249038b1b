"""Ctrl-C in `genlab image`: stops within a diffusion step, keeps no file, says so, exit 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest


@pytest.mark.slow
def test_sigint_stops_within_a_step_and_removes_partial_files(tiny_models, tmp_path) -> None:
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENLAB_")}
    env.update(tiny_models.env(), GENLAB_HOME=str(tmp_path / "home"))
    # 2 images x 200 steps at 256x256: minutes on the tiny model, so it is mid-way when signalled.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "genlab.cli",
            "image",
            "a fox",
            "--width",
            "256",
            "--height",
            "256",
            "--steps",
            "200",
            "--num-images",
            "2",
            "--seed",
            "1",
            "--out",
            str(out),
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        time.sleep(12)  # imports, loading, then some steps
        assert proc.poll() is None, proc.communicate()
        signalled = time.monotonic()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
        waited = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("genlab: cancelled (stopped after ") and last.endswith("steps); no file was kept"), last
    assert stdout == ""
    assert not out.exists() or list(out.iterdir()) == []  # nothing half-written, no temporary file
    # One 256x256 step of the tiny model takes well under a second here; 60 s would be a missed signal.
    print(f"stopped {waited:.2f} s after SIGINT")
