"""Text that is safe to show in a terminal: no control sequences from documents or models.

A course note, a model's answer or a file name can carry terminal control sequences: an
OSC sequence that sets the window title or writes the clipboard (OSC 52), a screen clear,
a carriage return that overwrites a line already shown. Rich's markup escaping does not
touch them. :func:`safe_text` is the one function genlab passes every such text through
before it reaches a terminal (the CLI wraps stdout with :class:`SafeTextStream`; the REPL
and rich output call it directly). ``--json`` output is not changed: JSON escapes control
characters itself, and :func:`json_safe` escapes the few it leaves raw.
"""

from __future__ import annotations

import re
import sys
from typing import Any, TextIO

__all__ = ["SafeTextStream", "json_safe", "raw_stdout", "safe_text"]

# Complete escape sequences are removed: they carry formatting or commands, not text.
# ESC-introduced (7-bit) and C1 (8-bit) forms of each; string sequences (OSC, DCS, SOS, PM,
# APC) end at BEL or ST, or at the end of the line when a document leaves them open.
_SEQUENCE = re.compile(
    r"""
    (?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]                        # CSI: cursor moves, clears, colours
    | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?  # OSC, DCS, SOS, PM, APC
    | \x1b[ -/]*[0-~]                                       # two-character ESC sequences (reset, charset...)
    """,
    re.VERBOSE,
)
# Any other C0 control but newline and tab, DEL, and C1 controls: shown as a visible escape.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe_text(text: str) -> str:
    """Return ``text`` with terminal control sequences removed and other controls made visible.

    Newlines and tabs stay; ``\\r\\n`` becomes ``\\n``; complete escape sequences (CSI,
    OSC, DCS...) are removed; every other C0 or C1 control character is replaced by its
    ``\\xNN`` escape, so a stray BEL or backspace shows as ``\\x07`` instead of acting.
    """
    if text.isprintable() or not _has_control(text):
        return text
    text = text.replace("\r\n", "\n")
    text = _SEQUENCE.sub("", text)
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def _has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None


_JSON_RAW = re.compile(r"[\x7f-\x9f]")


def json_safe(document: str) -> str:
    """Escape the control characters ``json.dumps(..., ensure_ascii=False)`` leaves raw.

    JSON escapes C0 controls but not DEL and C1 ones; as ``\\u00NN`` escapes the document
    decodes to exactly the same data and no raw control reaches a terminal.
    """
    return _JSON_RAW.sub(lambda match: f"\\u{ord(match.group()):04x}", document)


class SafeTextStream:
    """A text stream that passes everything written through :func:`safe_text`.

    The CLI puts one around stdout for the length of a command, so a ``print`` anywhere in
    a command cannot forward a document's control sequences. Rich consoles that draw
    (colours, live updates) write to :func:`raw_stdout` and clean their text themselves.
    """

    def __init__(self, stream: TextIO) -> None:
        self.raw = stream

    def write(self, text: str) -> int:
        self.raw.write(safe_text(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno, encoding, buffer...
        return getattr(self.raw, name)


def raw_stdout() -> TextIO:
    """The stdout under a :class:`SafeTextStream`, for rich consoles that emit their own codes."""
    stream = sys.stdout
    return stream.raw if isinstance(stream, SafeTextStream) else stream
