"""The ``genlab`` command: parses arguments, calls the public API, prints.

Exit codes: 0 success; 2 bad input, a bad setting or an unavailable model (one line on
stderr, no traceback); 1 an unexpected failure (a short message; ``--debug`` shows the
traceback); 130 interrupted (Ctrl-C); 141 stdout closed by its reader (``| head``), quietly,
as other command-line tools end on SIGPIPE. Heavy libraries are imported inside the
commands, so ``genlab --help`` is fast.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from typing import Any

from pydantic import ValidationError
from typer.exceptions import Exit, TyperException

# Each module registers its commands on the one app; the order is the order in --help.
from genlab.cli import chat, media, models, retrieval, story, ui  # registers the commands
from genlab.cli.app import _STATE, Interrupted, PipeClosed, app
from genlab.errors import GenlabError, ModelUnavailableError, describe_validation_error
from genlab.terminal import SafeTextStream, safe_text

__all__ = ["app", "main"]

#: Longest error line; a longer one keeps its start and its end (which says what is allowed).
MAX_MESSAGE_CHARS = 600


def one_line(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``message`` as one terminal-safe line of at most about ``limit`` characters."""
    text = " ".join(safe_text(message).split())
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]} … {text[-half:]}"


def _fail(message: str, code: int) -> None:
    sys.stderr.write(f"genlab: error: {one_line(message)}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def _setting_name(field: str) -> str:
    return f"GENLAB_{field.upper()} (or {field} in genlab.toml)"


def _settings_error(exc: Any) -> str:
    """One line for an invalid setting: which variable, the value, what is allowed."""
    from genlab.settings import Settings

    return "invalid setting " + describe_validation_error(exc, Settings, names=_setting_name)


class _WarningLines(logging.Formatter):
    """genlab's warnings on stderr as ``genlab: warning: ...`` lines, like its errors."""

    def format(self, record: logging.LogRecord) -> str:
        return f"genlab: {record.levelname.lower()}: {one_line(record.getMessage())}"


def _show_warnings() -> logging.Handler | None:
    """Print genlab's warnings (index repaired, a setting ignored...) for this command."""
    logger = logging.getLogger("genlab")
    if any(isinstance(h.formatter, _WarningLines) for h in logger.handlers):
        return None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_WarningLines())
    handler.setLevel(logging.WARNING)
    logger.addHandler(handler)
    return handler


def _pipe_closed() -> None:
    # Python would print "Exception ignored ... BrokenPipeError" when it flushes stdout at
    # exit; pointing stdout at /dev/null first keeps the end quiet, as a SIGPIPE would.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # stdout is not a real file (tests): nothing will be flushed to it
    raise SystemExit(141)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; maps exceptions to the documented exit codes."""
    args = sys.argv[1:] if argv is None else argv
    handler = _show_warnings()
    stdout = sys.stdout
    sys.stdout = SafeTextStream(stdout)  # every print is terminal-safe
    try:
        try:
            result = app(args=args, prog_name="genlab", standalone_mode=False)
        except Exit as exc:
            raise SystemExit(exc.exit_code) from None
        except TyperException as exc:  # usage errors: unknown command or option, bad value
            message = " ".join(exc.format_message().split())
            _fail(f"{message} (see `genlab --help`)", getattr(exc, "exit_code", 2))
        except GenlabError as exc:
            if isinstance(exc, ModelUnavailableError) and exc.origin == "model=" and "--model" in args:
                exc.origin = "--model"  # the commands pass --model on as model=: name what the user typed
            _fail(str(exc), 2)
        except ValidationError as exc:  # settings from the environment or genlab.toml
            _fail(_settings_error(exc), 2)
        except (Interrupted, KeyboardInterrupt) as exc:
            if str(exc):  # a generation stopped at Ctrl-C; its files were removed
                sys.stderr.write(f"genlab: cancelled ({one_line(str(exc))}); no file was kept\n")
                raise SystemExit(130) from None
            _fail("interrupted", 130)
        except (PipeClosed, BrokenPipeError):
            _pipe_closed()
        except Exception as exc:  # the last line of defence: one line unless --debug
            if _STATE["debug"] or "--debug" in args:
                traceback.print_exc()
            _fail(f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)", 1)
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _pipe_closed()
        if isinstance(result, int) and result:
            raise SystemExit(result)
    finally:
        sys.stdout = stdout
        if handler is not None:
            logging.getLogger("genlab").removeHandler(handler)
