"""Agent commands: ``chat``."""

from __future__ import annotations

from typing import Annotated

import typer

from genlab.cli.app import _STATE, app
from genlab.cli.common import ModelOption


@app.command("chat")
def chat_command(
    session: Annotated[
        str | None,
        typer.Option("--session", help="Save the conversation under this name (in GENLAB_HOME) and resume it next time."),
    ] = None,
    model: ModelOption = None,
) -> None:
    """Talk to the course assistant: course questions, summaries, classification, stories, images, music.

    In the chat: /help, /tools, /reset, /session, /exit. Ctrl-C cancels an answer; Ctrl-D leaves.
    """
    from genlab.agents.repl import run_chat

    code = run_chat(session=session, model=model, debug=_STATE["debug"])
    if code:
        raise typer.Exit(code)

