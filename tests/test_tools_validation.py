"""Bad input is refused with a message saying what is allowed, before any model loads.

Every role points at a folder that does not exist: if a function reached the model
before validating, it would raise ModelUnavailableError instead of ToolInputError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, ToolException

from genlab.errors import InvalidInputError, ModelUnavailableError
from genlab.models import get_runtime
from genlab.tools import (
    ToolInputError,
    classify_few_shot,
    classify_few_shot_text,
    classify_zero_shot,
    classify_zero_shot_text,
    compose_music,
    generate_image,
    generate_images,
    generate_music,
    summarize,
    summarize_text,
)


@pytest.fixture
def no_models(tmp_path, monkeypatch):
    """Every role configured with a missing model folder; outputs in a temp folder."""
    from genlab.settings import get_settings

    for role in ("TEXT", "SUMMARY", "ZERO_SHOT", "FEW_SHOT", "IMAGE", "MUSIC"):
        monkeypatch.setenv(f"GENLAB_{role}_MODEL", str(tmp_path / "missing" / role.lower()))
    monkeypatch.setenv("GENLAB_OUTPUT_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("GENLAB_MAX_INPUT_CHARS", "1000")
    get_settings.cache_clear()
    return tmp_path / "out"


IMAGE_OK = {"prompt": "a red fox", "width": 64, "height": 64, "steps": 2}
BAD_CALLS: list[tuple[str, Callable[..., Any], dict[str, Any], str]] = [
    ("empty prompt", generate_images, {**IMAGE_OK, "prompt": ""}, "prompt: is empty"),
    ("blank prompt", generate_images, {**IMAGE_OK, "prompt": " \n\t"}, "prompt: is only whitespace"),
    ("width not multiple of 8", generate_images, {**IMAGE_OK, "width": 100}, "width: Input should be a multiple of 8"),
    ("width too small", generate_images, {**IMAGE_OK, "width": 56}, "64 to 2048"),
    ("height too large", generate_images, {**IMAGE_OK, "height": 2056}, "height: Input should be less than or equal to 2048"),
    ("zero steps", generate_images, {**IMAGE_OK, "steps": 0}, "steps: Input should be greater than or equal to 1"),
    ("too many steps", generate_images, {**IMAGE_OK, "steps": 201}, "1 to 200"),
    ("no images", generate_images, {**IMAGE_OK, "num_images": 0}, "num_images"),
    ("too many images", generate_images, {**IMAGE_OK, "num_images": 9}, "from 1 to 8"),
    ("negative seed", generate_images, {**IMAGE_OK, "seed": -1}, "seed"),
    ("zero duration", compose_music, {"prompt": "piano", "duration_s": 0}, "duration_s: Input should be greater than 0"),
    ("negative duration", compose_music, {"prompt": "piano", "duration_s": -3}, "more than 0, at most 60"),
    ("long duration", compose_music, {"prompt": "piano", "duration_s": 60.5}, "less than or equal to 60"),
    ("blank music prompt", compose_music, {"prompt": "   "}, "prompt: is only whitespace"),
    ("empty text", summarize_text, {"text": ""}, "text: is empty"),
    ("text over the limit", summarize_text, {"text": "word " * 300}, "the limit is 1,000"),
    ("max_words too small", summarize_text, {"text": "hello", "max_words": 0}, "5 to 1000"),
    ("no labels", classify_zero_shot_text, {"text": "hi", "labels": []}, "labels"),
    ("duplicate labels", classify_zero_shot_text, {"text": "hi", "labels": ["good", "Good "]}, "appears more than once"),
    ("empty label", classify_zero_shot_text, {"text": "hi", "labels": ["good", " "]}, "must not be empty"),
    ("blank text", classify_zero_shot_text, {"text": "\n", "labels": ["a", "b"]}, "text: is only whitespace"),
    ("text over the limit", classify_zero_shot_text, {"text": "x" * 1001, "labels": ["a"]}, "1,001 characters"),
    ("duplicate few-shot labels", classify_few_shot_text, {"text": "hi", "labels": ["a", "a"]}, "appears more than once"),
    (
        "example with unknown label",
        classify_few_shot_text,
        {"text": "hi", "labels": ["pos", "neg"], "examples": [{"text": "ok", "label": "meh"}]},
        "examples: label 'meh' is not one of the labels",
    ),
    (
        "blank example",
        classify_few_shot_text,
        {"text": "hi", "labels": ["pos"], "examples": [{"text": " ", "label": "pos"}]},
        "examples.0.text",
    ),
]


@pytest.mark.parametrize(("case", "function", "kwargs", "message"), BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_input_is_refused_before_any_model_loads(no_models, case, function, kwargs, message) -> None:
    loads_before = sum(get_runtime().load_counts.values())
    with pytest.raises(ToolInputError) as caught:
        function(**kwargs)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert sum(get_runtime().load_counts.values()) == loads_before
    assert not no_models.exists() or list(no_models.iterdir()) == []


def test_input_error_is_both_a_tool_exception_and_an_input_error() -> None:
    assert issubclass(ToolInputError, ToolException)
    assert issubclass(ToolInputError, InvalidInputError)


TOOL_CASES: list[tuple[BaseTool, dict[str, Any], str]] = [
    (generate_image, {"prompt": "fox", "width": 100}, "multiple of 8"),
    (generate_image, {"prompt": "fox", "steps": 500}, "1 to 200"),
    (generate_music, {"prompt": "piano", "duration_s": 0}, "greater than 0"),
    (summarize, {"text": "   "}, "is only whitespace"),
    (classify_zero_shot, {"text": "hi", "labels": ["a", "A"]}, "appears more than once"),
    (classify_few_shot, {"text": "hi", "labels": []}, "at least 1 item"),
]


@pytest.mark.parametrize(("tool", "args", "message"), TOOL_CASES, ids=[f"{t.name}-{i}" for i, (t, _, _) in enumerate(TOOL_CASES)])
def test_a_direct_call_raises_and_the_agent_sees_the_message(no_models, tool: BaseTool, args, message) -> None:
    """Called from Python, a tool raises (never returns an error that looks like a result);
    only the agent turns the error into an error tool message the model reads."""
    from genlab.agents import build_agent
    from genlab.testing import ScriptedChatModel, last_tool_result, tool_call_message

    loads_before = sum(get_runtime().load_counts.values())
    for call in (args, {"type": "tool_call", "id": "call-1", "name": tool.name, "args": args}):
        with pytest.raises(ToolInputError) as caught:
            tool.invoke(call)
        assert message in str(caught.value) and "\n" not in str(caught.value)
    model = ScriptedChatModel(script=[tool_call_message(tool.name, **args), lambda m: "saw: " + last_tool_result(m)])
    state = build_agent(model, [tool]).invoke({"messages": [("user", "go")]}, {"configurable": {"thread_id": "t"}})
    results = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert len(results) == 1 and results[0].status == "error"
    assert message in results[0].content
    assert sum(get_runtime().load_counts.values()) == loads_before


def test_an_unavailable_model_is_raised_in_python(no_models) -> None:
    with pytest.raises(ModelUnavailableError) as caught:
        summarize.invoke({"text": "A short text."})
    assert "GENLAB_SUMMARY_MODEL" in str(caught.value)
    with pytest.raises(ModelUnavailableError):
        summarize_text("A short text.")


def test_async_invocation_validates_too(no_models) -> None:
    import asyncio

    with pytest.raises(ToolInputError, match="prompt: is empty"):
        asyncio.run(generate_image.ainvoke({"prompt": "", "width": 64}))


@pytest.mark.parametrize(
    ("tool", "field", "expected"),
    [
        (generate_image, "width", {"minimum": 64, "maximum": 2048, "multipleOf": 8}),
        (generate_image, "steps", {"minimum": 1, "maximum": 200}),
        (generate_image, "num_images", {"minimum": 1, "maximum": 8}),
        (generate_image, "prompt", {"minLength": 1, "pattern": r"\S"}),
        (generate_music, "duration_s", {"exclusiveMinimum": 0.0, "maximum": 60.0}),
        (classify_zero_shot, "labels", {"minItems": 1, "maxItems": 50}),
        (summarize, "text", {"minLength": 1, "pattern": r"\S"}),
    ],
)
def test_limits_are_in_the_schema_agents_validate_with(tool: BaseTool, field: str, expected: dict[str, Any]) -> None:
    from langchain_core.utils.function_calling import convert_to_openai_tool

    schema = convert_to_openai_tool(tool)["function"]["parameters"]["properties"][field]
    if "anyOf" in schema:  # optional fields
        schema = next(s for s in schema["anyOf"] if s.get("type") != "null")
    assert {k: schema.get(k) for k in expected} == expected


def test_tools_have_the_contract_names_and_descriptions() -> None:
    from genlab.tools import all_tools

    names = [t.name for t in all_tools()]
    assert names == ["summarize", "classify_zero_shot", "classify_few_shot", "generate_image", "generate_music"]
    for tool in all_tools():
        assert isinstance(tool, BaseTool)
        assert len(tool.description) > 80
