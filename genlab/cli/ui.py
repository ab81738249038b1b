"""The web app command: ``ui``."""

from __future__ import annotations

import importlib.util
import os
from typing import Annotated

import typer

from genlab.cli.app import app
from genlab.errors import GenlabError


@app.command("ui")
def ui_command(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on; 0.0.0.0 opens it to your network.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port, 1 to 65535.", min=1, max=65535)] = 7860,
    session: Annotated[
        str | None,
        typer.Option("--session", help="A saved chat session every browser tab opens (default: a new one per browser session)."),
    ] = None,
) -> None:
    """Open the course assistant in the browser: tabs Chat, Ask, Story, Studio, Models.

    Prints the URL; Ctrl-C stops the server.
    """
    if importlib.util.find_spec("gradio") is None:
        raise GenlabError('the web app needs Gradio, which is not installed: pip install "genlab[ui]"')
    from genlab.agents.memory import check_session_name
    from genlab.settings import get_settings

    if session is not None:
        check_session_name(session)
    get_settings()  # a bad setting fails here, in one line, before the server starts
    # Gradio reports usage to its servers unless told not to; genlab stays offline.
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from genlab.ui.app import serve

    def ready(url: str) -> None:
        print(f"genlab ui running on {url} (Ctrl-C stops it)", flush=True)

    serve(host, port, session=session, on_ready=ready)
