"""Exceptions that the package raises on purpose.

Every error a user can fix by changing their input or configuration derives from
:class:`GenlabError`. The CLI prints these as one line and exits with code 2; anything else
is an unexpected failure (exit code 1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class GenlabError(Exception):
    """Base class for errors caused by input or configuration, not by a bug."""


class InvalidInputError(GenlabError, ValueError):
    """An argument is outside what is allowed; the message says what is allowed."""


class PromptTooLongError(InvalidInputError):
    """A prompt and the tokens asked for do not fit the model's context.

    Raised in one place (the local generation code) so that callers that build prompts (the
    few-shot tool, the summarizer) can say what to shorten in their own terms.

    Attributes:
        prompt_tokens: Tokens in the longest prompt.
        new_tokens: Tokens the call asked to generate.
        context: The model's context length in tokens.
    """

    def __init__(self, message: str, *, prompt_tokens: int, new_tokens: int, context: int) -> None:
        super().__init__(message)
        self.prompt_tokens = prompt_tokens
        self.new_tokens = new_tokens
        self.context = context


class ModelUnavailableError(GenlabError):
    """A model for a role cannot be loaded: not on disk, not cached, or the wrong kind.

    The message names where the model id came from, so that the fix it gives is one the user
    can make: the ``GENLAB_<ROLE>_MODEL`` setting by default, or the ``--model`` flag /
    ``model=`` argument they passed (``origin``, set where the id was passed in: the model
    runtime for ``model=``, the CLI for ``--model``).

    Attributes:
        role: The role the model was asked for (``summary``, ``image``...).
        model_id: The hub id or local folder that was asked for.
        reason: What went wrong, in a few words.
        want: What the model id should name instead (``a folder holding a saved model``...),
            or None for the default fix (a local folder, or download it once).
        fixes: A fix that is not "set the model to something else", or None.
        origin: ``None`` (the setting), ``"--model"`` or ``"model="``.
    """

    def __init__(
        self,
        role: str,
        model_id: str,
        reason: str,
        *,
        want: str | None = None,
        fixes: str | None = None,
        origin: str | None = None,
    ) -> None:
        self.role = role
        self.model_id = model_id
        self.reason = reason
        self.want = want
        self._fixes = fixes
        self.origin = origin
        super().__init__(role, model_id, reason)

    @property
    def setting(self) -> str:
        """Where the model id came from, as the user wrote it: ``GENLAB_IMAGE_MODEL``, ``--model``..."""
        return self.origin or f"GENLAB_{self.role.upper()}_MODEL"

    @property
    def fixes(self) -> str:
        """What to do, naming :attr:`setting`."""
        if self._fixes is not None:
            return self._fixes
        change = f"set {self.setting} to" if self.origin is None else f"pass {self.origin}"
        if self.want is not None:
            return f"{change} {self.want}"
        return f"{change} a local model folder, or download it once where there is a network (`hf download {self.model_id}`)"

    def __str__(self) -> str:
        passed = f" passed with {self.origin}" if self.origin else ""
        return f"{self.role} model {self.model_id!r}{passed} is not available: {self.reason}; {self.fixes}."


class ModelOutputError(GenlabError):
    """A model answered, but its output cannot be used (summaries that do not get shorter...).

    It is not a bug in genlab: the message says which setting or input to change.
    """


class IndexCorruptError(GenlabError):
    """An index on disk cannot be read; rebuild it with ``genlab index --rebuild``."""


class GenerationCancelled(KeyboardInterrupt):
    """A long generation was cancelled (Ctrl-C, or its ``cancel`` event was set).

    A ``KeyboardInterrupt`` so that code which already stops on Ctrl-C stops on it too; the
    files of the cancelled call are removed before it propagates. The CLI exits with 130.
    """


class TurnCancelled(Exception):
    """Raised inside a turn whose cancel event (``configurable[genlab.agents.agent.CANCEL_KEY]``) is set.

    A turn checks the event before each model call (the turn ends), before each tool call
    (the tool is not run; its result says it was cancelled) and, with
    :class:`genlab.agents.agent.CancelOnToken` among the callbacks, at each generated token.
    Also importable as ``genlab.agents.agent.TurnCancelled``.
    """


class ConfigError(GenlabError):
    """A setting (a ``GENLAB_*`` variable, ``genlab.toml`` or a command-line flag) cannot be used.

    The message names the setting, the value it has and what is allowed.
    """


class DiskFullError(GenlabError):
    """A file could not be written: no space (or quota) left on its device."""


class SessionStoreError(GenlabError):
    """The saved sessions cannot be used: the SQLite file is damaged, or a session is busy."""


#: Longest piece of a user's input that an error message repeats.
SHOWN_CHARS = 60


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """Return ``repr(value)`` for an error message, cut to about ``limit`` characters.

    A message that echoes a 10,000-character argument in full buries what is allowed;
    the cut says how long the value was.
    """
    text = repr(value)
    if len(text) <= limit:
        return text
    length = f" ({len(value):,} characters)" if isinstance(value, (str, bytes)) else ""
    return f"{text[: limit - 1]}…{length}"


_SELF_EXPLAINING = {"value_error", "string_too_short", "string_pattern_mismatch"}


def describe_validation_error(error: Any, schema: Any = None, *, names: Callable[[str], str] | None = None) -> str:
    """Turn a pydantic ``ValidationError`` into one line naming each bad field and what it accepts.

    This is the one place genlab words a validation error: tools, chains, settings and the
    CLI all call it.

    Args:
        error: The ``pydantic.ValidationError``.
        schema: The model that was validated; each bad field's description (which states
            the allowed values) is appended to its message.
        names: Turns a field name into the name the user knows it by (for settings:
            ``GENLAB_DEVICE (or device in genlab.toml)``).
    """
    fields = getattr(schema, "model_fields", None) or {}
    parts = []
    for item in error.errors(include_url=False):
        loc = item.get("loc") or ()
        field_name = str(loc[0]) if loc else ""
        where = ".".join(str(p) for p in loc) or "input"
        if names is not None and field_name:
            where = names(field_name) + "".join(f".{p}" for p in loc[1:])
        message = _friendly(item)
        kind = str(item.get("type", ""))
        value = item.get("input")
        if "input" in item and (names is not None or kind.endswith(("_type", "_parsing"))):
            # A wrong type: say which, since strict validation refuses what looks right (True
            # for 1). A setting: say the value, it may come from a file the user forgot.
            message += f" (got {type(value).__name__} {shown(value)})"
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            message += f" (got {value})"
        field = fields.get(field_name) if loc else None
        description = getattr(field, "description", None)
        if description and item.get("type") not in _SELF_EXPLAINING:
            message += f"; {description.rstrip('.')}"
        parts.append(f"{where}: {message}" if loc else message)
    return "; ".join(parts)


def _friendly(item: Any) -> str:
    """Pydantic's message, in plain words for the two constraints every text field has."""
    kind = item.get("type")
    ctx = item.get("ctx") or {}
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return "is empty; give some non-whitespace text"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == r"\S":
        return "is only whitespace; give some non-whitespace text"
    return str(item.get("msg", "invalid")).removeprefix("Value error, ")


class IndexWriteError(GenlabError):
    """The index could not be written (a full disk, a lock path that is a folder...); the
    previous index is left as it was."""


class IndexServerError(GenlabError):
    """The Chroma server named by ``GENLAB_CHROMA_URL`` does not answer or refused a request."""
