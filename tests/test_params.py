"""The image and music parameters are declared once (genlab.params); nothing else may drift from them.

Every check reads the limits, defaults and descriptions from the schemas, so changing a
limit in genlab.params changes what these tests expect: the tools' functions, the chains,
the CLI (help, defaults, refusals) and the docs must follow.
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

import annotated_types
import pytest
import typer
from cli_runner import run_cli
from langchain_core.language_models.fake import FakeListLLM
from pydantic import BaseModel

from genlab.chains import illustrated_story, story_soundtrack
from genlab.chains.media import ImageOptions, MusicOptions
from genlab.cli.app import app
from genlab.errors import InvalidInputError
from genlab.params import MAX_PROMPT_CHARS, ImageInput, ImageSettings, MusicInput, MusicSettings, default, describe
from genlab.tools import ToolInputError, compose_music, generate_image, generate_images

DOCS = Path(__file__).resolve().parents[1] / "docs"
NUMBER = re.compile(r"\d+(?:\.\d+)?")
#: CLI option (its Python parameter) -> schema field, where the names differ.
CLI_FIELD = {"guidance": "guidance_scale", "duration": "duration_s"}


def bounds(schema: type[BaseModel], name: str) -> dict[str, float]:
    """The numeric constraints of a field: ``{"ge": 64, "le": 2048, "multiple_of": 8}``."""
    found: dict[str, float] = {}
    for item in schema.model_fields[name].metadata:
        for key in ("ge", "gt", "le", "lt", "multiple_of"):
            if isinstance(item, getattr(annotated_types, key.title().replace("_", ""))):
                found[key] = getattr(item, key)
    return found


def number(value: float) -> str:
    """A bound as prose writes it: 30.0 -> "30", 7.5 -> "7.5"."""
    return str(int(value)) if float(value).is_integer() else str(value)


NUMERIC = [
    (schema, name)
    for schema in (ImageInput, MusicInput)
    for name in schema.model_fields
    if bounds(schema, name) and name != "prompt"
]


def refused_values(schema: type[BaseModel], name: str) -> list[Any]:
    """Values just outside what the field allows, in the field's own type."""
    b = bounds(schema, name)
    integral = schema.model_fields[name].annotation in (int, int | None)
    step = b.get("multiple_of", 1 if integral else 0.5)
    values: list[Any] = []
    if "ge" in b:
        values.append(b["ge"] - step)
    if "gt" in b:
        values.append(b["gt"])
    if "le" in b:
        values.append(b["le"] + step)
    if "multiple_of" in b:
        values.append(b["ge"] + 1)
    return [int(v) if integral else float(v) for v in values]


@pytest.mark.parametrize(("schema", "name"), NUMERIC, ids=[f"{s.__name__}.{n}" for s, n in NUMERIC])
def test_each_description_states_exactly_the_fields_limits(schema: type[BaseModel], name: str) -> None:
    # The description is the help text of the CLI and the UI and the tail of every error:
    # its numbers are the constraints (and the default), nothing else.
    stated = set(NUMBER.findall(describe(schema, name)))
    limits = {number(v) for v in bounds(schema, name).values()}
    assert limits <= stated, f"{name}: the description misses {limits - stated}"
    allowed = limits | ({number(default(schema, name))} if default(schema, name) is not None else set())
    assert stated <= allowed, f"{name}: the description states {stated - allowed}, which the schema does not"


@pytest.mark.parametrize(("function", "schema"), [(generate_images, ImageInput), (compose_music, MusicInput)])
def test_the_plain_functions_take_the_schema_fields_with_its_defaults(function: Any, schema: type[BaseModel]) -> None:
    positional = [p for p in inspect.signature(function).parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert [p.name for p in positional] == list(schema.model_fields)
    for parameter in positional[1:]:
        assert parameter.default == default(schema, parameter.name), parameter.name


@pytest.mark.parametrize(
    ("options", "settings", "builder", "renamed"),
    [
        (ImageOptions, ImageSettings, illustrated_story, {"model": "image_model"}),
        (MusicOptions, MusicSettings, story_soundtrack, {"model": "music_model"}),
    ],
)
def test_the_chains_take_every_setting_with_the_tools_limits(
    options: type[BaseModel], settings: type[BaseModel], builder: Any, renamed: dict[str, str]
) -> None:
    assert set(options.model_fields) == {*settings.model_fields, "model"}
    for name in settings.model_fields:
        assert bounds(options, name) == bounds(settings, name), name
        assert describe(options, name) == describe(settings, name), name
    keywords = set(inspect.signature(builder).parameters)
    assert {renamed.get(name, name) for name in options.model_fields} <= keywords


def test_the_tools_prompt_comes_first() -> None:
    # A tool called with a plain string fills its first field: that must be the prompt.
    assert next(iter(ImageInput.model_fields)) == "prompt" and next(iter(MusicInput.model_fields)) == "prompt"
    with pytest.raises(ToolInputError, match=r"^prompt: is only whitespace"):
        generate_image.invoke("   ")


CHAIN_CASES = [
    (builder, schema, name, value)
    for builder, schema in ((illustrated_story, ImageSettings), (story_soundtrack, MusicSettings))
    for name in schema.model_fields
    if bounds(schema, name)
    for value in refused_values(schema, name)
]


@pytest.mark.parametrize(("builder", "schema", "name", "value"), CHAIN_CASES, ids=[f"{c[2]}={c[3]}" for c in CHAIN_CASES])
def test_the_chain_builders_refuse_what_the_schema_refuses(builder: Any, schema: type[BaseModel], name: str, value: Any) -> None:
    with pytest.raises(InvalidInputError) as caught:
        builder(FakeListLLM(responses=["x"]), FakeListLLM(responses=["Yes"]), **{name: value})
    message = str(caught.value)
    assert message.startswith(f"{name}: ") and message.endswith(describe(schema, name).rstrip("."))
    assert "\n" not in message


@pytest.mark.parametrize(("builder", "schema"), [(illustrated_story, ImageSettings), (story_soundtrack, MusicSettings)])
def test_the_chain_builders_accept_the_schemas_extremes(builder: Any, schema: type[BaseModel]) -> None:
    for name in schema.model_fields:
        b = bounds(schema, name)
        for key in ("ge", "le"):
            if key in b:
                chain = builder(FakeListLLM(responses=["x"]), FakeListLLM(responses=["Yes"]), **{name: b[key]})
                chosen = chain.image if chain.image is not None else chain.music
                assert getattr(chosen, name) == b[key]


def _options(command: str) -> dict[str, Any]:
    group = typer.main.get_command(app)
    return {param.name: param for param in group.commands[command].params}


@pytest.mark.parametrize(
    ("command", "schema", "fields"),
    [
        ("image", ImageInput, ["negative_prompt", "width", "height", "steps", "guidance_scale", "seed", "num_images"]),
        ("music", MusicInput, ["duration_s", "seed"]),
        ("story", ImageSettings, ["width", "height", "steps"]),
        ("story", MusicSettings, ["duration_s"]),
    ],
)
def test_cli_options_show_the_schemas_description_and_default(command: str, schema: type[BaseModel], fields: list[str]) -> None:
    options = {CLI_FIELD.get(name, name): option for name, option in _options(command).items()}
    for name in fields:
        option = options[name]
        # `genlab story` says whose setting it is ("Picture width in pixels: ...").
        assert describe(schema, name)[1:] in option.help, name
        assert option.default == default(schema, name), name


CLI_CASES = [
    (command, flag, schema, name, value)
    for command, schema, flags in (
        (["image", "a fox"], ImageInput, {"--width": "width", "--height": "height", "--steps": "steps"}),
        (["image", "a fox"], ImageInput, {"--guidance": "guidance_scale", "--num-images": "num_images"}),
        (["music", "piano"], MusicInput, {"--duration": "duration_s", "--seed": "seed"}),
        (["story", "--illustrate"], ImageSettings, {"--width": "width", "--height": "height", "--steps": "steps"}),
        (["story", "--soundtrack"], MusicSettings, {"--duration": "duration_s"}),
    )
    for flag, name in flags.items()
    for value in refused_values(schema, name)
]


@pytest.mark.parametrize(
    ("command", "flag", "schema", "name", "value"), CLI_CASES, ids=[f"{c[0][0]}{c[1]}={c[4]}" for c in CLI_CASES]
)
def test_the_cli_refuses_what_the_schema_refuses_with_exit_2(
    command: list[str], flag: str, schema: type[BaseModel], name: str, value: Any, tmp_path: Path, capsys
) -> None:
    # No model is configured: the value is refused before any is needed.
    code, stdout, stderr = run_cli([*command, flag, str(value), "--out", str(tmp_path / "out")], capsys)
    assert code == 2, stderr
    assert stdout == ""
    assert stderr.startswith(f"genlab: error: {name}: ") and describe(schema, name).rstrip(".") in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_the_tools_docs_state_the_schemas_limits_and_defaults() -> None:
    text = " ".join((DOCS / "tools.md").read_text(encoding="utf-8").split())
    for schema, tool in ((ImageInput, "generate_image"), (MusicInput, "generate_music")):
        arguments = ", ".join(
            name if field.is_required() else f"{name}={json.dumps(default(schema, name)).replace('null', 'None')}"
            for name, field in schema.model_fields.items()
        )
        assert f"`{tool}({arguments})`" in text
    image, music = bounds(ImageInput, "width"), bounds(MusicInput, "duration_s")
    stated = [
        f"not a multiple of {number(image['multiple_of'])} or outside {number(image['ge'])}..{number(image['le'])}",
        "steps outside {ge}..{le}".format(**{k: number(v) for k, v in bounds(ImageInput, "steps").items()}),
        "guidance outside {ge}..{le}".format(**{k: number(v) for k, v in bounds(ImageInput, "guidance_scale").items()}),
        f"duration outside ({number(music['gt'])}, {number(music['le'])}] s",
        "num_images outside {ge}..{le}".format(**{k: number(v) for k, v in bounds(ImageInput, "num_images").items()}),
        f"prompts over {MAX_PROMPT_CHARS:,} characters",
    ]
    for phrase in stated:
        assert phrase in text
