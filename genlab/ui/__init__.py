"""The web app (``genlab ui``): Gradio tabs Chat, Ask, Story, Studio and Models over genlab's public API.

Needs the ``ui`` extra (``pip install "genlab[ui]"``). Importing this package does not
import Gradio; :func:`build_app` and :func:`serve` do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from genlab._lazy import lazy_getattr

if TYPE_CHECKING:
    from genlab.ui.app import build_app, serve

_LAZY = {"build_app": "genlab.ui.app", "serve": "genlab.ui.app"}

__all__ = sorted(_LAZY)

__getattr__ = lazy_getattr(__name__, _LAZY)
