"""Agent commands: ``chat``."""

from __future__ import annotations

from typing import Annotated

import typer

from genlab.cli.app import _STATE, app
from genlab.cli.common import (
    MaxNewTokensOption,
    ModelOption,
    TemperatureOption,
    TextSeedOption,
    generation_settings,
)


@app.command("chat")
def chat_command(
    session: Annotated[
        str | None,
        typer.Option("--session", help="Save the conversation under this name (in GENLAB_HOME) and resume it next time."),
    ] = None,
    model: ModelOption = None,
    max_new_tokens: MaxNewTokensOption = None,
    temperature: TemperatureOption = None,
    seed: TextSeedOption = None,
) -> None:
    """Talk to the course assistant: course questions, summaries, classification, stories, images, music.

    In the chat: /help, /tools, /reset, /session, /exit. Ctrl-C cancels an answer; Ctrl-D leaves.
    """
    from genlab.agents.repl import run_chat

    generation = generation_settings(max_new_tokens, temperature, seed)
    code = run_chat(session=session, model=model, debug=_STATE["debug"], generation=generation)
    if code:
        raise typer.Exit(code)

