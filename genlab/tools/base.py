"""What every genlab tool shares: the input error, schema validation and the tool base class.

A tool's arguments are described once, as a pydantic model. The same model is the tool's
``args_schema`` (so an agent's tool-argument validation sees the limits), and the plain
Python functions behind the tools validate with it too, before any model is loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, Field, ValidationError

from genlab.errors import InvalidInputError, describe_validation_error
from genlab.models import get_model, get_runtime
from genlab.params import MAX_PROMPT_CHARS, NOT_BLANK
from genlab.settings import Settings, get_settings, use_settings
from genlab.tools.files import ensure_output_dir

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(done, total)`` while a long generation runs (diffusion steps, audio tokens)."""

SchemaT = TypeVar("SchemaT", bound=BaseModel)


class ToolInputError(ToolException, InvalidInputError):
    """An argument to a tool is outside what is allowed; the message says what is allowed.

    It is both a LangChain :class:`~langchain_core.tools.ToolException` (a tool with
    ``handle_tool_error`` returns the message to the agent as the tool's result) and a
    :class:`genlab.errors.InvalidInputError` (the CLI prints it and exits with code 2).
    """


__all__ = [
    "MAX_PROMPT_CHARS",
    "NOT_BLANK",
    "GeneratorTool",
    "GenlabTool",
    "ProgressCallback",
    "ToolInputError",
    "check_text_size",
    "clean_labels",
    "describe_validation_error",
    "load_generator",
    "require_text",
    "validate_input",
]


def validate_input(schema: type[SchemaT], data: dict[str, Any]) -> SchemaT:
    """Validate tool arguments with ``schema``, strictly.

    Strict mode: a wrong type is a mistake, not something to coerce. ``steps=True`` is not
    one step and ``multi_label="yes"`` is not true; the message names the type it got.

    Raises:
        ToolInputError: An argument is missing, of the wrong type, or outside what the
            schema allows.
    """
    try:
        return schema.model_validate(data, strict=True)
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


def check_text_size(value: str, what: str = "text") -> str:
    """Refuse text longer than ``Settings.max_input_chars`` (read at call time).

    This is the one size check of genlab's text inputs: tools, chains and the CLI all call it.

    Raises:
        InvalidInputError: ``value`` is longer than the limit (a ``ValueError``, so a
            pydantic validator reports it as the field's error).
    """
    limit = get_settings().max_input_chars
    if len(value) > limit:
        raise InvalidInputError(f"{what} has {len(value):,} characters; the limit is {limit:,} (GENLAB_MAX_INPUT_CHARS)")
    return value


def load_generator(role: str, model: str | None, out_dir: str | Path | None) -> tuple[str, Path, Any]:
    """Check the model's config and the output folder, then load the role's pipeline.

    The checks come first: a bad folder must fail in a second, not after minutes of loading.

    Args:
        role: ``"image"`` or ``"music"``.
        model: Hub id or folder overriding the role's configured model.
        out_dir: Folder for the files; None: ``get_settings().outputs``.

    Returns:
        The model id (what the files record), the output folder (created) and the pipeline.

    Raises:
        ModelUnavailableError: The model cannot be loaded.
        InvalidInputError: ``out_dir`` is not a folder that can be written.
    """
    model_id = model or get_settings().model_for(role)
    get_runtime().key_for(role, model)
    folder = ensure_output_dir(out_dir)
    return model_id, folder, get_model(role, model)


class GenlabTool(BaseTool):
    """Base class of the genlab tools.

    Subclasses set ``name``, ``description`` and ``args_schema`` and implement
    :meth:`_execute` with the validated arguments.

    Called directly (``tool.invoke({...})``), a tool raises: :class:`ToolInputError` for
    bad arguments (validated strictly by :func:`validate_input` before anything runs),
    :class:`~genlab.errors.ModelUnavailableError` when its model cannot be loaded. It never
    returns an error message that could pass for a result. The agent is what turns these
    exceptions into error tool messages (LangChain's ``ToolErrorMiddleware`` in
    :func:`genlab.agents.build_agent`), so the model can tell the user or try again. The
    async path runs the same code in a worker thread (the models are synchronous).
    """

    settings: Settings | None = Field(default=None, exclude=True)
    """Settings this tool runs under (models, device, output folder, limits); ``None``: the
    process-wide ones. ``genlab.agents.default_tools(settings)`` sets it."""

    def invoke(self, input: Any, config: Any = None, **kwargs: Any) -> Any:
        # The whole call runs under the tool's settings: LangChain's own argument parsing
        # checks size limits too, before _run.
        with use_settings(self.settings):
            self._check_arguments(input)
            return super().invoke(input, config, **kwargs)

    async def ainvoke(self, input: Any, config: Any = None, **kwargs: Any) -> Any:
        with use_settings(self.settings):
            self._check_arguments(input)
            return await super().ainvoke(input, config, **kwargs)

    def _check_arguments(self, input: Any) -> None:
        """Validate the arguments strictly, raising one :class:`ToolInputError` line.

        LangChain's own argument parsing coerces (``"3"`` becomes 3) and raises pydantic's
        multi-line error; this runs first with the same schema, in strict mode.
        """
        schema = self.args_schema
        if not isinstance(schema, type) or not issubclass(schema, BaseModel):
            return
        if isinstance(input, dict) and input.get("type") == "tool_call":
            input = input.get("args", {})
        if isinstance(input, str):
            input = {next(iter(schema.model_fields), "text"): input}
        if not isinstance(input, dict):
            raise ToolInputError(
                f"{self.name} takes a dict of arguments (or a string for its first one), got {type(input).__name__}"
            )
        validate_input(schema, input)

    def _run(self, *args: Any, **kwargs: Any) -> Any:
        if args:  # a plain string input fills the first field of the schema
            schema = self.args_schema
            first = next(iter(cast("type[BaseModel]", schema).model_fields)) if isinstance(schema, type) else "text"
            kwargs[first] = args[0]
        with use_settings(self.settings):
            return self._execute(**kwargs)

    def _execute(self, **kwargs: Any) -> Any:
        raise NotImplementedError


class GeneratorTool(GenlabTool):
    """Base class of the tools that write files with a generator model (image, music).

    Subclasses implement :meth:`_generate` with the validated arguments; the tool returns
    its result as JSON-ready data.
    """

    model: str | None = None
    """Hub id or folder of the model; None uses the role's setting (GENLAB_IMAGE_MODEL, GENLAB_MUSIC_MODEL)."""
    out_dir: Path | None = None
    """Where the files go; None uses GENLAB_OUTPUT_DIR."""

    def _execute(self, **kwargs: Any) -> dict[str, Any]:
        return self._generate(**kwargs).model_dump(mode="json")

    def _generate(self, **kwargs: Any) -> BaseModel:
        raise NotImplementedError
