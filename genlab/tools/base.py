"""What every genlab tool shares: the input error, schema validation and the tool base class.

A tool's arguments are described once, as a pydantic model. The same model is the tool's
``args_schema`` (so an agent's tool-argument validation sees the limits), and the plain
Python functions behind the tools validate with it too, before any model is loaded.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, Field, ValidationError

from genlab.errors import GenlabError, InvalidInputError
from genlab.settings import Settings, use_settings

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(done, total)`` while a long generation runs (diffusion steps, audio tokens)."""

SchemaT = TypeVar("SchemaT", bound=BaseModel)

#: Longest prompt the image and music tools take. CLIP and T5 text encoders read only the
#: first few dozen tokens, so a longer "prompt" is almost always a mistake.
MAX_PROMPT_CHARS = 2000
#: JSON-schema pattern of every text argument: at least one non-whitespace character.
NOT_BLANK = r"\S"


class ToolInputError(ToolException, InvalidInputError):
    """An argument to a tool is outside what is allowed; the message says what is allowed.

    It is both a LangChain :class:`~langchain_core.tools.ToolException` (a tool with
    ``handle_tool_error`` returns the message to the agent as the tool's result) and a
    :class:`genlab.errors.InvalidInputError` (the CLI prints it and exits with code 2).
    """


_SELF_EXPLAINING = {"value_error", "string_too_short", "string_pattern_mismatch"}


def describe_validation_error(error: ValidationError, schema: type[BaseModel] | None = None) -> str:
    """Turn a pydantic error into one line naming each bad field and what it accepts.

    Args:
        error: The error raised while validating tool arguments.
        schema: The argument schema; each bad field's description (which states the
            allowed values) is appended to its message.
    """
    fields = schema.model_fields if schema is not None else {}
    parts = []
    for item in error.errors(include_url=False):
        loc = item.get("loc") or ()
        where = ".".join(str(p) for p in loc) or "input"
        message = _friendly(item)
        value = item.get("input")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            message += f" (got {value})"
        field = fields.get(str(loc[0])) if loc else None
        if field is not None and field.description and item.get("type") not in _SELF_EXPLAINING:
            message += f"; {field.description.rstrip('.')}"
        parts.append(f"{where}: {message}" if loc else message)
    return "; ".join(parts)


def _friendly(item: Any) -> str:
    """Pydantic's message, in plain words for the two constraints every text field has."""
    kind = item.get("type")
    ctx = item.get("ctx") or {}
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return "is empty; give some non-whitespace text"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == NOT_BLANK:
        return "is only whitespace; give some non-whitespace text"
    return str(item.get("msg", "invalid")).removeprefix("Value error, ")


def validate_input(schema: type[SchemaT], data: dict[str, Any]) -> SchemaT:
    """Validate tool arguments with ``schema``.

    Raises:
        ToolInputError: An argument is missing or outside what the schema allows.
    """
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise ToolInputError(describe_validation_error(exc, schema)) from None


def require_text(value: str, what: str = "text") -> str:
    """Refuse an empty or whitespace-only string (a pydantic ``field_validator`` helper)."""
    if not value.strip():
        raise ValueError(f"{what} is empty; give some non-whitespace text")
    return value


def clean_labels(labels: list[str], *, max_chars: int = 100) -> list[str]:
    """Strip labels and refuse empty, over-long or duplicate (case-insensitive) ones."""
    cleaned = [label.strip() for label in labels]
    if any(not label for label in cleaned):
        raise ValueError("labels must not be empty strings")
    too_long = [label for label in cleaned if len(label) > max_chars]
    if too_long:
        raise ValueError(f"labels may have at most {max_chars} characters each ({too_long[0][:20]!r}... is longer)")
    seen: set[str] = set()
    for label in cleaned:
        key = label.casefold()
        if key in seen:
            raise ValueError(f"labels must be distinct; {label!r} appears more than once")
        seen.add(key)
    return cleaned


def check_text_size(value: str) -> str:
    """Refuse text longer than ``Settings.max_input_chars`` (read at call time)."""
    from genlab.settings import get_settings

    limit = get_settings().max_input_chars
    if len(value) > limit:
        raise ValueError(
            f"text has {len(value):,} characters; the limit is {limit:,} (GENLAB_MAX_INPUT_CHARS)"
        )
    return value


class GenlabTool(BaseTool):
    """Base class of the genlab tools.

    Subclasses set ``name``, ``description`` and ``args_schema`` and implement
    :meth:`_execute` with the validated arguments. Bad input reaches the agent as the
    tool's result (``handle_tool_error`` / ``handle_validation_error``); so does a model
    that cannot be loaded, so the agent can tell the user instead of crashing the chat.
    The async path runs the same code in a worker thread (the models are synchronous).
    """

    handle_tool_error: Any = True
    """Return a :class:`ToolException`'s message as the tool result instead of raising."""
    handle_validation_error: Any = None
    """Set per instance to a formatter naming the bad field and what it accepts."""
    settings: Settings | None = Field(default=None, exclude=True)
    """Settings this tool runs under (models, device, output folder, limits); ``None``: the
    process-wide ones. ``genlab.agents.default_tools(settings)`` sets it."""

    def model_post_init(self, context: Any) -> None:
        super().model_post_init(context)
        if self.handle_validation_error is None:
            schema = self.args_schema if isinstance(self.args_schema, type) else None
            self.handle_validation_error = lambda error: describe_validation_error(error, schema)

    def _run(self, *args: Any, **kwargs: Any) -> Any:
        if args:  # a plain string input fills the first field of the schema
            schema = self.args_schema
            first = next(iter(schema.model_fields)) if isinstance(schema, type) else "text"
            kwargs[first] = args[0]
        try:
            with use_settings(self.settings):
                return self._execute(**kwargs)
        except ToolException:
            raise
        except GenlabError as exc:
            raise ToolException(str(exc)) from exc

    def _execute(self, **kwargs: Any) -> Any:
        raise NotImplementedError
