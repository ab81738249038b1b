"""Start and stop a real ``transformers serve`` on 127.0.0.1 (for the server tests and benchmarks).

The server runs in its own process group, listens on a free loopback port, is polled on
``GET /health`` for a bounded time, and is always terminated (the whole group) when the
``with`` block ends, also when it failed to start. Its log goes to a file whose tail is
quoted in every failure.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: Seconds a server may take to answer /health (about 25 s on 2 busy cores).
START_TIMEOUT_S = 90.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ModelServer:
    """A running ``transformers serve``."""

    folder: Path
    """The model folder it serves; also the ``model`` name requests must use."""
    port: int
    log: Path
    process: subprocess.Popen

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (``GENLAB_OPENAI_BASE_URL``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server's log, for failure messages."""
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return "(no log)"


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)


@contextmanager
def transformers_serve(folder: Path, log: Path, *, timeout_s: float = START_TIMEOUT_S) -> Iterator[ModelServer]:
    """Run ``transformers serve FOLDER`` on a free loopback port for the ``with`` block.

    Raises:
        RuntimeError: The server exited or did not answer ``/health`` within ``timeout_s``
            (the message quotes its log).
    """
    import httpx

    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "transformers.cli.transformers",
        "serve",
        str(folder),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--device",
        "cpu",
        "--log-level",
        "warning",
    ]
    handle = log.open("wb")
    process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    server = ModelServer(folder=folder, port=port, log=log, process=process)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"transformers serve exited with {process.returncode}:\n{server.log_tail()}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"transformers serve did not answer /health in {timeout_s:.0f} s:\n{server.log_tail()}")
            time.sleep(0.5)
        yield server
    finally:
        _stop(process)
        handle.close()
