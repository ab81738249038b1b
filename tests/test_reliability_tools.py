"""Tool arguments are validated strictly: a wrong type is refused with a message naming it.

Pydantic's default (lax) mode turns ``steps=True`` into one step and ``multi_label="yes"``
into true; a tool that does that does something the caller did not ask for. Every row is
refused before any model loads, as a ToolInputError (also an InvalidInputError).
"""

from __future__ import annotations

import pytest

from genlab.errors import InvalidInputError
from genlab.models import get_runtime
from genlab.tools import ToolInputError, classify_few_shot, classify_zero_shot, generate_image, generate_music, summarize

# fmt: off
WRONG_TYPES = [
    ("image-steps-bool",         generate_image,     {"prompt": "a fox", "steps": True},                 "steps: Input should be a valid integer (got bool True)"),
    ("image-width-string",       generate_image,     {"prompt": "a fox", "width": "512"},                "(got str '512')"),
    ("image-seed-float",         generate_image,     {"prompt": "a fox", "seed": 1.5},                   "seed"),
    ("image-guidance-string",    generate_image,     {"prompt": "a fox", "guidance_scale": "7.5"},       "(got str '7.5')"),
    ("image-prompt-number",      generate_image,     {"prompt": 42},                                     "prompt: Input should be a valid string (got int 42)"),
    ("image-num-images-bool",    generate_image,     {"prompt": "a fox", "num_images": False},           "(got bool False)"),
    ("music-duration-string",    generate_music,     {"prompt": "jazz", "duration_s": "8"},              "(got str '8')"),
    ("music-duration-bool",      generate_music,     {"prompt": "jazz", "duration_s": True},             "(got bool True)"),
    ("zero-shot-multi-yes",      classify_zero_shot, {"text": "tasty", "labels": ["a", "b"], "multi_label": "yes"}, "multi_label: Input should be a valid boolean (got str 'yes')"),
    ("zero-shot-multi-int",      classify_zero_shot, {"text": "tasty", "labels": ["a", "b"], "multi_label": 1}, "(got int 1)"),
    ("zero-shot-labels-string",  classify_zero_shot, {"text": "tasty", "labels": "a,b"},                 "labels: Input should be a valid list (got str 'a,b')"),
    ("zero-shot-label-number",   classify_zero_shot, {"text": "tasty", "labels": ["a", 2]},              "labels.1"),
    ("few-shot-example-list",    classify_few_shot,  {"text": "tasty", "labels": ["a"], "examples": [["x", "a"]]}, "examples.0"),
    ("summarize-text-bytes",     summarize,          {"text": b"some text"},                             "(got bytes"),
    ("summarize-max-words-float", summarize,         {"text": "some text", "max_words": 10.0},           "(got float 10.0)"),
    ("summarize-max-words-bool", summarize,          {"text": "some text", "max_words": True},           "(got bool True)"),
]
# fmt: on


@pytest.mark.parametrize(("case", "tool", "args", "needle"), WRONG_TYPES, ids=[c[0] for c in WRONG_TYPES])
def test_a_wrong_type_is_refused_naming_the_type(case, tool, args, needle):
    loads = sum(get_runtime().load_counts.values())
    with pytest.raises(ToolInputError) as caught:
        tool.invoke(args)
    message = str(caught.value)
    assert needle in message and "\n" not in message
    assert sum(get_runtime().load_counts.values()) == loads


def test_the_plain_functions_are_strict_too():
    from genlab.tools import classify_zero_shot_text, compose_music, generate_images

    with pytest.raises(ToolInputError, match="got bool True"):
        generate_images("a fox", steps=True)
    with pytest.raises(ToolInputError, match="got str 'yes'"):
        classify_zero_shot_text("tasty", ["a", "b"], multi_label="yes")
    with pytest.raises(ToolInputError, match="got str '8'"):
        compose_music("jazz", duration_s="8")


def test_search_course_is_strict(tiny_env):
    from genlab.retrieval import search_course

    with pytest.raises(ToolInputError, match="got bool True"):
        search_course.invoke({"query": "GANs", "k": True})


def test_a_tool_given_neither_a_dict_nor_a_string_says_so():
    with pytest.raises(ToolInputError, match="takes a dict of arguments"):
        summarize.invoke(123)


@pytest.mark.parametrize("question", [123, 4.5, None, ["What is a GAN?"], b"What is a GAN?"])
def test_qa_chain_needs_a_string(question):
    from genlab.retrieval import qa_chain

    with pytest.raises(InvalidInputError) as caught:
        qa_chain().invoke(question)
    assert "must be a string" in str(caught.value) or "empty" in str(caught.value)
    if question is not None:
        assert type(question).__name__ in str(caught.value)
