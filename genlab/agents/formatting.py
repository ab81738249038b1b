"""How the REPL shows tool calls and listings on one line: argument lists, first sentences, cuts."""

from __future__ import annotations

import json
import re
from typing import Any


def format_args(args: dict[str, Any], limit: int = 160) -> str:
    """Render tool arguments as ``key='value', ...`` on one line, shortened to ``limit`` characters."""
    text = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in args.items())
    return shorten(text, limit)


def first_sentence(text: str) -> str:
    """Return the first sentence of the first paragraph of ``text`` (for one-line listings)."""
    paragraph = text.strip().split("\n\n", 1)[0]
    paragraph = " ".join(paragraph.split())
    match = re.match(r"(.+?[.!?])(?:\s|$)", paragraph)
    return match.group(1) if match else paragraph


def shorten(text: str, limit: int = 160) -> str:
    """Collapse whitespace and cut ``text`` to ``limit`` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
