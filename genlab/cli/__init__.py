"""The ``genlab`` command: parses arguments, calls the public API, prints.

Exit codes: 0 success; 2 bad input or an unavailable model (one line on stderr, no
traceback); 1 an unexpected failure (a short message; ``--debug`` shows the traceback);
130 interrupted. Heavy libraries are imported inside the commands, so ``genlab --help`` is
fast.
"""

from __future__ import annotations

import sys
from typing import Any

# Each module registers its commands on the one app; the order is the order in --help.
from genlab.cli import chat, media, models, retrieval, story, ui  # noqa: F401  (registers commands)
from genlab.cli.app import _STATE, app
from genlab.errors import GenlabError

__all__ = ["app", "main"]


def _fail(message: str, code: int) -> None:
    sys.stderr.write(f"genlab: error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def _settings_error(exc: Any) -> str:
    """One line for an invalid setting: which variable, what is allowed."""
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first.get("loc") else "?"
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"invalid setting GENLAB_{field.upper()} (or {field} in genlab.toml): {message}"


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; maps exceptions to the documented exit codes."""
    from pydantic import ValidationError
    from typer.exceptions import Exit, TyperException

    args = sys.argv[1:] if argv is None else argv
    try:
        result = app(args=args, prog_name="genlab", standalone_mode=False)
    except Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except TyperException as exc:  # usage errors: unknown command or option, bad value
        if type(exc).__name__ == "NoArgsIsHelpError":
            app(args=["--help"], prog_name="genlab", standalone_mode=False)
            raise SystemExit(0) from None
        message = " ".join(exc.format_message().split())
        _fail(f"{message} (see `genlab --help`)", getattr(exc, "exit_code", 2))
    except GenlabError as exc:
        _fail(" ".join(str(exc).split()), 2)
    except ValidationError as exc:  # settings from the environment or genlab.toml
        _fail(_settings_error(exc), 2)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line unless --debug
        if _STATE["debug"] or "--debug" in args:
            import traceback

            traceback.print_exc()
        _fail(f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)", 1)
    if isinstance(result, int) and result:
        raise SystemExit(result)

