"""Runs the genlab CLI in-process, as a user would from the shell, for the CLI tests."""

from __future__ import annotations

import pytest

from genlab.cli import main


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Return the exit code, stdout and stderr of ``genlab ARGS``."""
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
