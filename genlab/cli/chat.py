"""Agent commands: ``chat``."""

from __future__ import annotations

from typing import Annotated

import typer

from genlab.cli.app import _STATE, app
from genlab.cli.common import (
    JsonOption,
    MaxNewTokensOption,
    ModelOption,
    TemperatureOption,
    TextSeedOption,
    generation_settings,
    print_json,
)
from genlab.errors import InvalidInputError


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
    list_sessions: Annotated[bool, typer.Option("--list", help="List the saved sessions (messages, last use) and exit.")] = False,
    delete: Annotated[str | None, typer.Option("--delete", help="Delete the saved session NAME and exit.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Talk to the course assistant: course questions, summaries, classification, stories, images, music.

    In the chat: /help, /tools, /reset, /session, /sessions, /exit. Ctrl-C cancels an answer;
    Ctrl-D leaves. Two chats on one session both keep their turns, one after the other.
    """
    if list_sessions or delete is not None:
        if list_sessions and delete is not None:
            raise InvalidInputError("give --list or --delete NAME, not both")
        if session is not None:
            raise InvalidInputError("--list and --delete do not take --session")
        _manage_sessions(delete, json_output)
        return
    if json_output:
        raise InvalidInputError("--json goes with --list or --delete; a chat prints text")
    from genlab.agents.repl import run_chat

    generation = generation_settings(max_new_tokens, temperature, seed)
    code = run_chat(session=session, model=model, debug=_STATE["debug"], generation=generation)
    if code:
        raise typer.Exit(code)


def _manage_sessions(delete: str | None, json_output: bool) -> None:
    from genlab.agents.memory import delete_session, list_sessions, sessions_path

    if delete is not None:
        delete_session(delete)
        if json_output:
            print_json({"deleted": delete})
        else:
            print(f"deleted session {delete}")
        return
    if json_output:
        print_json({"sessions": [info.model_dump(mode="json") for info in list_sessions()], "path": str(sessions_path())})
        return
    from genlab.agents.repl import format_sessions

    print(format_sessions())
