"""The Typer application every command module registers on, and the global options."""

from __future__ import annotations

import os
from typing import Annotated, Any, cast

import typer
from pydantic import ValidationError
from typer.core import TyperGroup

from genlab import __version__, logs
from genlab.errors import GenerationCancelled


class Interrupted(Exception):
    """Ctrl-C during a command (Typer would turn it into a silent exit code 130)."""


class PipeClosed(Exception):
    """The reader of stdout went away (``genlab ask ... | head -1``)."""


class GenlabGroup(TyperGroup):
    """The root command group; it hands Ctrl-C and a closed pipe to :func:`genlab.cli.main`."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except GenerationCancelled as exc:
            raise Interrupted(str(exc)) from None  # its message says where it stopped
        except KeyboardInterrupt:
            raise Interrupted from None
        except BrokenPipeError:
            raise PipeClosed from None


app = typer.Typer(
    name="genlab",
    cls=GenlabGroup,
    help="Local generative models as LangChain tools: ask the course, summarize, classify, draw, compose, chat.",
    # No command prints the help (in _root): Typer's no_args_is_help raises an exception
    # class it keeps private, which the CLI could only recognise by its name.
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_STATE: dict[str, Any] = {"debug": False}


def _print_version(value: bool) -> None:
    # An eager option's own callback runs while the command line is parsed, before Click
    # asks for a command: `genlab --version` needs no command.
    if value:
        print(f"genlab {__version__}")
        raise typer.Exit(0)


def _configure_logs(debug: bool) -> None:
    """Quiet the libraries before any command imports them (see genlab.logs)."""

    from genlab.settings import get_settings

    try:
        level = get_settings().log_level
    except ValidationError:
        level = None  # the command reads the settings again and reports what is wrong
    logs.configure(level, debug=debug)


@app.callback()
def _root(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of unexpected errors, and the libraries' own logs and progress bars.")
    ] = False,
    trust_remote_code: Annotated[
        bool,
        typer.Option(
            "--trust-remote-code",
            help="Let model repositories run their own Python code (only for models you trust; also GENLAB_TRUST_REMOTE_CODE=1).",
        ),
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", is_eager=True, callback=_print_version)
    ] = False,
) -> None:
    _STATE["debug"] = debug
    if ctx.invoked_subcommand is None:
        print(ctx.get_help())
        raise typer.Exit(0)
    _configure_logs(debug)
    if trust_remote_code:
        from genlab.settings import SettingsGetter, get_settings

        # The environment is where an explicit choice of the user's lives; setting it here
        # makes every settings read of this process (and of the servers it starts) see it.
        os.environ["GENLAB_TRUST_REMOTE_CODE"] = "1"
        cast(SettingsGetter, get_settings).cache_clear()
