"""The Typer application every command module registers on, and the global ``--debug`` flag."""

from __future__ import annotations

from typing import Annotated, Any

import typer

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
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of unexpected errors, and the libraries' own logs and progress bars.")
    ] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", is_eager=True)] = False,
) -> None:
    if version:
        from genlab import __version__

        print(__version__)
        raise typer.Exit(0)
    _STATE["debug"] = debug
    _configure_logs(debug)


def _configure_logs(debug: bool) -> None:
    """Quiet the libraries before any command imports them (see genlab.logs)."""
    from pydantic import ValidationError

    from genlab import logs
    from genlab.settings import get_settings

    try:
        level = get_settings().log_level
    except ValidationError:
        level = None  # the command reads the settings again and reports what is wrong
    logs.configure(level, debug=debug)

