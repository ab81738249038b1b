"""How a failing event reaches the page: one line in a Gradio error, never a traceback.

Every handler of the app is wrapped by :func:`shows_errors`. A :class:`~genlab.errors.GenlabError`
(bad input, an unavailable model) becomes a ``gr.Error`` with the same line the CLI prints
after ``genlab: error:``; anything else is a bug in genlab: the page gets one line naming it
and the traceback goes to the server's log. Either way the event ends and the app goes on
serving.
"""

from __future__ import annotations

import functools
import html
import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import gradio as gr

from genlab.errors import GenlabError

logger = logging.getLogger("genlab.ui")

F = TypeVar("F", bound=Callable[..., Any])


def error_line(exc: BaseException) -> str:
    """The one line shown for ``exc``: the CLI's message for genlab's errors, a short note otherwise."""
    if isinstance(exc, GenlabError):
        return " ".join(str(exc).split())
    return f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())} (a bug in genlab; the traceback is in the server log)"


def _to_gradio(exc: Exception) -> Exception:
    if isinstance(exc, gr.Error):
        return exc
    if not isinstance(exc, GenlabError):
        logger.error("event failed", exc_info=exc)
    # print_exception=False: a user's mistake is not a server problem worth a traceback.
    # Gradio renders the message as HTML; escaped, it reads exactly as the CLI's line.
    return gr.Error(html.escape(error_line(exc), quote=False), print_exception=False)


def shows_errors(fn: F) -> F:
    """Wrap an event handler (a function or a generator) so its errors become one-line ``gr.Error``s.

    The wrapper keeps ``fn``'s signature, so Gradio still sees its parameters (and any
    ``gr.Progress`` default).
    """
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from fn(*args, **kwargs)
            except Exception as exc:  # the page gets one line, the app goes on
                raise _to_gradio(exc) from None

        return generator  # type: ignore[return-value]

    @functools.wraps(fn)
    def function(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # the page gets one line, the app goes on
            raise _to_gradio(exc) from None

    return function  # type: ignore[return-value]
