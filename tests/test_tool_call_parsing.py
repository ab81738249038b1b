"""Tool calls parsed from canned model outputs, written exactly as Qwen 2.5 and Llama 3.1 emit them.

No model is loaded here: these drive :func:`genlab.models.tool_calls.parse_tool_calls` directly.
"""

from __future__ import annotations

import pytest

from genlab.models.tool_calls import parse_tool_calls

TOOLS = ["get_current_temperature", "get_temperature_date", "get_weather"]

# Qwen 2.5 after its chat template's tool prompt (Qwen docs, "Function Calling"): one block
# per call, the JSON on its own line; the end-of-turn token is special and not decoded.
QWEN_ONE = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
QWEN_TWO = (
    '<tool_call>\n{"name": "get_current_temperature", "arguments": {"location": "San Francisco, CA, USA"}}\n</tool_call>\n'
    '<tool_call>\n{"name": "get_temperature_date", "arguments": {"location": "San Francisco, CA, USA", "date": "2024-10-01"}}\n</tool_call>'
)
# Llama 3.1 with JSON-based tool calling (Meta's prompt-format docs): the whole answer is the call.
LLAMA = '{"name": "get_weather", "parameters": {"city": "Paris"}}'


def test_qwen_single_call():
    parsed = parse_tool_calls(QWEN_ONE, TOOLS)
    assert parsed.content == ""
    assert [(c["name"], c["args"]) for c in parsed.tool_calls] == [("get_weather", {"city": "Paris"})]
    assert parsed.tool_calls[0]["type"] == "tool_call"


def test_qwen_parallel_calls_keep_their_order():
    parsed = parse_tool_calls(QWEN_TWO, TOOLS)
    assert parsed.content == ""
    assert [(c["name"], c["args"]) for c in parsed.tool_calls] == [
        ("get_current_temperature", {"location": "San Francisco, CA, USA"}),
        ("get_temperature_date", {"location": "San Francisco, CA, USA", "date": "2024-10-01"}),
    ]


def test_qwen_text_before_the_call_stays_content():
    parsed = parse_tool_calls("Let me check the weather for you.\n" + QWEN_ONE, TOOLS)
    assert parsed.content == "Let me check the weather for you."
    assert [c["name"] for c in parsed.tool_calls] == ["get_weather"]


def test_qwen_block_without_closing_tag_is_read():
    parsed = parse_tool_calls('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n', TOOLS)
    assert [(c["name"], c["args"]) for c in parsed.tool_calls] == [("get_weather", {"city": "Oslo"})]
    assert parsed.content == ""


def test_qwen_compact_and_fenced_blocks():
    compact = '<tool_call>{"name":"get_weather","arguments":{"city":"Rome"}}</tool_call>'
    fenced = '<tool_call>\n```json\n{"name": "get_weather", "arguments": {"city": "Rome"}}\n```\n</tool_call>'
    spaced = '  <tool_call>  \n\n  {  "name" : "get_weather" ,\n "arguments" : { "city" : "Rome" } }  \n</tool_call>  '
    for text in (compact, fenced, spaced):
        parsed = parse_tool_calls(text, TOOLS)
        assert [(c["name"], c["args"]) for c in parsed.tool_calls] == [("get_weather", {"city": "Rome"})], text
        assert parsed.content == ""


def test_arguments_given_as_a_json_string():
    text = '<tool_call>\n{"name": "get_weather", "arguments": "{\\"city\\": \\"Lima\\"}"}\n</tool_call>'
    assert parse_tool_calls(text, TOOLS).tool_calls[0]["args"] == {"city": "Lima"}


def test_llama_json_call():
    parsed = parse_tool_calls(LLAMA, TOOLS)
    assert parsed.content == ""
    assert [(c["name"], c["args"]) for c in parsed.tool_calls] == [("get_weather", {"city": "Paris"})]


def test_llama_call_after_python_tag_and_in_a_code_fence():
    for text in ("<|python_tag|>" + LLAMA, f"```json\n{LLAMA}\n```", f"\n\n  {LLAMA}\n", f"```\n{LLAMA}```"):
        parsed = parse_tool_calls(text, TOOLS)
        assert [(c["name"], c["args"]) for c in parsed.tool_calls] == [("get_weather", {"city": "Paris"})], text
        assert parsed.content == ""


def test_llama_several_calls_as_a_list_or_separated():
    second = '{"name": "get_temperature_date", "parameters": {"location": "Paris", "date": "2024-10-01"}}'
    for text in (f"[{LLAMA}, {second}]", f"{LLAMA}; {second}", f"{LLAMA}\n{second}"):
        names = [c["name"] for c in parse_tool_calls(text, TOOLS).tool_calls]
        assert names == ["get_weather", "get_temperature_date"], text


def test_fenced_call_after_some_prose():
    text = f"I will look that up.\n```json\n{LLAMA}\n```"
    parsed = parse_tool_calls(text, TOOLS)
    assert parsed.content == "I will look that up."
    assert [c["name"] for c in parsed.tool_calls] == ["get_weather"]


def test_unknown_tool_name_comes_back_as_text():
    for text in (
        QWEN_ONE.replace("get_weather", "launch_rocket"),
        LLAMA.replace("get_weather", "launch_rocket"),
    ):
        parsed = parse_tool_calls(text, TOOLS)
        assert parsed.tool_calls == []
        assert parsed.content == text.strip()


def test_one_bad_block_stays_text_the_good_one_is_called():
    bad = '<tool_call>\n{"name": "launch_rocket", "arguments": {}}\n</tool_call>'
    parsed = parse_tool_calls(QWEN_ONE + "\n" + bad, TOOLS)
    assert [c["name"] for c in parsed.tool_calls] == ["get_weather"]
    assert parsed.content == bad


@pytest.mark.parametrize(
    "text",
    [
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}\n</tool_call>',  # a brace short
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": Paris}}\n</tool_call>',  # bare word
        '<tool_call>\n{"arguments": {"city": "Paris"}}\n</tool_call>',  # no name
        '<tool_call>\n{"name": "get_weather", "arguments": ["Paris"]}\n</tool_call>',  # args not an object
        "<tool_call>",
        "<tool_call></tool_call>",
        "{",
        "[",
        "```",
        '{"name": "get_weather", "parameters": {"city": "Paris"}} and then some words',
        '{"answer": 42}',
        "[1, 2, 3]",
        "The weather is sunny.",
        "",
        "\x00\ufffd<tool_call>\ufffd{{",
    ],
)
def test_malformed_output_is_plain_text_never_an_error(text):
    parsed = parse_tool_calls(text, TOOLS)
    assert parsed.tool_calls == []
    assert parsed.content == text.strip()


def test_no_tools_offered_means_no_calls():
    assert parse_tool_calls(QWEN_ONE, []).tool_calls == []
    assert parse_tool_calls(QWEN_ONE, []).content == QWEN_ONE


def test_any_name_accepted_without_a_tool_list():
    assert [c["name"] for c in parse_tool_calls(QWEN_ONE.replace("get_weather", "anything")).tool_calls] == ["anything"]


def test_every_call_gets_a_unique_id():
    same_twice = QWEN_ONE + "\n" + QWEN_ONE
    ids = [c["id"] for c in parse_tool_calls(same_twice, TOOLS).tool_calls]
    ids += [c["id"] for c in parse_tool_calls(same_twice, TOOLS).tool_calls]
    assert len(ids) == 4 and len(set(ids)) == 4
    assert all(isinstance(i, str) and i.startswith("call_") for i in ids)
