"""The web app: one ``gr.Blocks`` with the tabs Chat, Ask, Story, Studio and Models.

:func:`build_app` lays the tabs out (each tab's module holds its handlers, thin calls into
genlab's public functions); :func:`serve` launches it as ``genlab ui`` does. Generated files
are served from the output folder only: it is the one ``allowed_paths`` entry, and a static
path, so the page shows the files genlab wrote there rather than copies.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gradio as gr

from genlab.errors import InvalidInputError
from genlab.settings import get_settings
from genlab.ui import ask, chat, models, story, studio

TITLE = "genlab: the generative-AI course assistant"
CSS = """
.genlab-source summary { cursor: pointer; }
.genlab-source pre { white-space: pre-wrap; font-size: 0.85em; max-height: 16em; overflow-y: auto; }
"""


def build_app(*, session: str | None = None, store: str | None = None) -> gr.Blocks:
    """Build the app (not launched).

    Args:
        session: A saved chat session every browser session opens (``genlab ui --session``);
            None gives each browser session a new one of its own.
        store: The Ask tab's default store; None uses ``GENLAB_STORE``.
    """
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"## {TITLE}")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                chat_parts = chat.build(session)
            with gr.Tab("Ask", id="ask"):
                ask.build(store or get_settings().store)
            with gr.Tab("Story", id="story"):
                story.build()
            with gr.Tab("Studio", id="studio"):
                studio.build()
            with gr.Tab("Models", id="models"):
                model_parts = models.build()
        demo.load(
            chat_parts["on_load"],
            outputs=[chat_parts["state"], chat_parts["session"], chat_parts["status"], chat_parts["chatbot"]],
            api_visibility="private",
        )
        demo.load(model_parts["load"], outputs=model_parts["table"], api_visibility="private")
    return demo


def serve(
    host: str = "127.0.0.1",
    port: int = 7860,
    *,
    session: str | None = None,
    block: bool = True,
    on_ready: Any = None,
) -> gr.Blocks:
    """Launch the app on ``host:port`` (``genlab ui``).

    Args:
        host: Interface to bind; 127.0.0.1 keeps it on this machine.
        port: TCP port.
        session: See :func:`build_app`.
        block: Wait until Ctrl-C (then close the server) instead of returning at once.
        on_ready: Called with the URL once the server answers.
    """
    from genlab.tools.files import ensure_output_dir

    outputs: Path = ensure_output_dir(get_settings().outputs)
    gr.set_static_paths([outputs])
    demo = build_app(session=session)
    demo.queue(default_concurrency_limit=1)
    try:
        demo.launch(
            server_name=host,
            server_port=port,
            prevent_thread_lock=True,
            allowed_paths=[str(outputs)],
            show_error=False,  # unexpected errors reach the page as one line (genlab.ui.errors), not a traceback
            quiet=True,
            ssr_mode=False,  # no Node.js server: one process to start and stop
            inbrowser=False,
            share=False,
            css=CSS,
            footer_links=["api"],
            run_history=False,
        )
    except OSError:  # Gradio's words name its own settings; say it in genlab's
        raise InvalidInputError(
            f"cannot listen on {host}:{port}: the port is in use or the address is not this machine's; "
            "pass another --port or --host"
        ) from None
    url = f"http://{host}:{port}/"
    if on_ready is not None:
        on_ready(url)
    if block:
        try:
            while demo.is_running:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass  # Ctrl-C: stop serving and return normally
        finally:
            demo.close()
    return demo
