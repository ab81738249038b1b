"""What the command modules share: output helpers and the common options."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from genlab.errors import InvalidInputError
from genlab.terminal import json_safe, raw_stdout


def stdout_console() -> Any:
    """A rich console on stdout (plain text when piped).

    It writes its own colour codes, so it gets the stream under the CLI's terminal-safe
    wrapper: pass text from documents or models through :func:`genlab.terminal.safe_text`
    before printing it here.
    """
    from rich.console import Console

    return Console(soft_wrap=False, file=raw_stdout())


def print_json(data: Any) -> None:
    """Print ``data`` as one JSON document on stdout, exactly (control characters escaped as JSON)."""
    sys.stdout.write(json_safe(json.dumps(data, ensure_ascii=False, default=str)) + "\n")
    sys.stdout.flush()


def show_progress(json_output: bool) -> bool:
    """Progress bars go to a terminal, never into ``--json`` output or a pipe."""
    return not json_output and sys.stderr.isatty()


def read_text_arg(value: str, *, what: str = "text") -> str:
    """Return ``value``, or the contents of stdin when it is ``-``.

    Raises:
        InvalidInputError: stdin is empty.
    """
    if value == "-":
        data = sys.stdin.read().removeprefix("\ufeff")  # a BOM is not part of the text
        if not data.strip():
            raise InvalidInputError(f"{what} from stdin is empty; pipe some text in or pass it as an argument")
        return data
    return value


OutOption = Annotated[Path | None, typer.Option("--out", help="Folder for generated files (default: GENLAB_OUTPUT_DIR).")]
ModelOption = Annotated[str | None, typer.Option("--model", help="Hub id or local folder overriding the configured model.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print a JSON document instead of text.")]
MaxNewTokensOption = Annotated[
    int | None, typer.Option("--max-new-tokens", help="Most tokens the model generates per answer (default: 256).")
]
TemperatureOption = Annotated[
    float | None, typer.Option("--temperature", help="Sampling temperature; 0 is greedy (default: the model's own).")
]
TextSeedOption = Annotated[int | None, typer.Option("--seed", help="Sampling seed: the same seed gives the same text.")]


def generation_settings(max_new_tokens: int | None, temperature: float | None, seed: int | None) -> dict[str, Any]:
    """The generation flags that were given, as ``load_llm`` / ``load_chat_model`` keywords.

    Raises:
        InvalidInputError: A value out of range.
    """
    from genlab.models.generation import check_generation

    given = {"max_new_tokens": max_new_tokens, "temperature": temperature, "seed": seed}
    chosen = {name: value for name, value in given.items() if value is not None}
    check_generation(chosen)  # before any model loads: one line naming the flag's range
    return chosen
