"""The ``genlab`` command: parses arguments, calls the public API, prints.

Exit codes: 0 success; 2 bad input or an unavailable model (one line on stderr, no
traceback); 1 an unexpected failure (a short message; ``--debug`` shows the traceback);
130 interrupted. Heavy libraries are imported inside the commands, so ``genlab --help`` is
fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from genlab.errors import GenlabError, InvalidInputError

app = typer.Typer(
    name="genlab",
    help="Local generative models as LangChain tools: ask the course, summarize, classify, draw, compose, chat.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_STATE: dict[str, Any] = {"debug": False}


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of unexpected errors.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", is_eager=True)] = False,
) -> None:
    if version:
        from genlab import __version__

        print(__version__)
        raise typer.Exit(0)
    _STATE["debug"] = debug


# ---------------------------------------------------------------------------------------------
# Shared helpers for commands
# ---------------------------------------------------------------------------------------------


def stdout_console() -> Any:
    """A rich console on stdout (plain text when piped)."""
    from rich.console import Console

    return Console(soft_wrap=False)


def print_json(data: Any) -> None:
    """Print ``data`` as one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def show_progress(json_output: bool) -> bool:
    """Progress bars go to a terminal, never into ``--json`` output or a pipe."""
    return not json_output and sys.stderr.isatty()


def read_text_arg(value: str, *, what: str = "text") -> str:
    """Return ``value``, or the contents of stdin when it is ``-``.

    Raises:
        InvalidInputError: stdin is empty.
    """
    if value == "-":
        data = sys.stdin.read()
        if not data.strip():
            raise InvalidInputError(f"{what} from stdin is empty; pipe some text in or pass it as an argument")
        return data
    return value


OutOption = Annotated[Optional[Path], typer.Option("--out", help="Folder for generated files (default: GENLAB_OUTPUT_DIR).")]
ModelOption = Annotated[Optional[str], typer.Option("--model", help="Hub id or local folder overriding the configured model.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print a JSON document instead of text.")]

# ---------------------------------------------------------------------------------------------
# Retrieval commands: index, ask            (owned by genlab/retrieval)
# ---------------------------------------------------------------------------------------------

# ---------------------------------------------------------------------------------------------
# Modality commands: image, music, summarize, classify            (owned by genlab/tools)
# ---------------------------------------------------------------------------------------------

# ---------------------------------------------------------------------------------------------
# Chain commands: story            (owned by genlab/chains)
# ---------------------------------------------------------------------------------------------

# ---------------------------------------------------------------------------------------------
# Agent commands: chat            (owned by genlab/agents)
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def _fail(message: str, code: int) -> None:
    sys.stderr.write(f"genlab: error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; maps exceptions to the documented exit codes."""
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
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line unless --debug
        if _STATE["debug"] or "--debug" in args:
            import traceback

            traceback.print_exc()
        _fail(f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)", 1)
    if isinstance(result, int) and result:
        raise SystemExit(result)


if __name__ == "__main__":
    main()
