"""The tool-calling chat model (``load_chat_model`` / ``ChatLocalModel``).

Two layers: canned outputs (as Qwen 2.5 and Llama 3.1 emit them) fed through the real chat
template and parser by a scripted LLM, with no model loaded; and the whole model on the tiny
random chat model (its words are random: those tests assert the loop, not the text).
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models.fake import FakeStreamingListLLM
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from genlab.errors import InvalidInputError, ModelUnavailableError
from genlab.models import ChatLocalModel, load_chat_model, load_llm
from genlab.models import runtime as runtime_module

QWEN_CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
QWEN_TWO_CALLS = QWEN_CALL + '\n<tool_call>\n{"name": "get_time", "arguments": {"city": "Paris"}}\n</tool_call>'
LLAMA_CALL = '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}'

weather_runs: list[str] = []


@tool
def get_weather(city: str) -> str:
    """Return the current weather in a city."""
    weather_runs.append(city)
    return "sunny"


@tool
def get_time(city: str) -> str:
    """Return the local time in a city."""
    return "noon"


class Weather(BaseModel):
    """The weather in a city."""

    city: str
    celsius: int


class ScriptedLLM(FakeStreamingListLLM):
    """Stands in for the local model's generation: canned answers, streamed character by
    character, and a record of the prompts it was given."""

    prompts: list[str] = []

    def _call(self, prompt: str, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> str:
        self.prompts.append(prompt)
        return super()._call(prompt, stop, run_manager, **kwargs)


@pytest.fixture(scope="module")
def chat_tokenizer(tiny_models):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_models.chat)  # the tokenizer only: no model


def scripted(tokenizer, *responses: str) -> ChatLocalModel:
    return ChatLocalModel(llm=ScriptedLLM(responses=list(responses), prompts=[]), tokenizer=tokenizer)


def streamed(runnable, message) -> tuple[list[AIMessageChunk], AIMessageChunk]:
    chunks = list(runnable.stream(message))
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    return chunks, total


def calls_of(message) -> list[tuple[str, dict]]:
    return [(call["name"], call["args"]) for call in message.tool_calls]


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (QWEN_CALL, [("get_weather", {"city": "Paris"})]),
        (QWEN_TWO_CALLS, [("get_weather", {"city": "Paris"}), ("get_time", {"city": "Paris"})]),
        (LLAMA_CALL, [("get_weather", {"city": "Paris"})]),
        ('{"name": "get_weather", "parameters": {"city": "Paris"}}', [("get_weather", {"city": "Paris"})]),
        ('```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```', [("get_weather", {"city": "Paris"})]),
    ],
)
def test_tool_calls_come_back_from_invoke_and_stream(chat_tokenizer, output, expected):
    chat = scripted(chat_tokenizer, output).bind_tools([get_weather, get_time])
    message = chat.invoke("What is the weather and the time in Paris?")
    assert isinstance(message, AIMessage)
    assert calls_of(message) == expected and message.content == ""
    assert len({call["id"] for call in message.tool_calls}) == len(expected)
    chunks, total = streamed(chat, "What is the weather and the time in Paris?")
    assert calls_of(total) == expected and total.content == ""
    assert all("<tool_call>" not in chunk.content and "{" not in chunk.content for chunk in chunks)


def test_text_before_a_call_streams_first_and_the_call_comes_last(chat_tokenizer):
    output = "Let me look that up.\n" + QWEN_CALL
    chat = scripted(chat_tokenizer, output).bind_tools([get_weather])
    message = chat.invoke("Weather in Paris?")
    assert message.content == "Let me look that up." and calls_of(message) == [("get_weather", {"city": "Paris"})]
    chunks, total = streamed(chat, "Weather in Paris?")
    assert len(chunks) > 10  # character by character
    assert "".join(c.content for c in chunks[:-1]) == "Let me look that up."
    assert chunks[-1].tool_call_chunks and chunks[-1].chunk_position == "last"
    assert total.content == message.content and calls_of(total) == calls_of(message)


@pytest.mark.parametrize(
    "output",
    [
        '<tool_call>\n{"name": "launch_rocket", "arguments": {}}\n</tool_call>',  # not an offered tool
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"\n</tool_call>',  # broken JSON
        '{"name": "get_weather", "parameters": {"city": "Paris"}} is how I would call it.',
        "It is 3 < 4 and {braces} and ``` fences in plain text.",
        "  The answer is 42.  \n",
    ],
)
def test_anything_else_is_plain_text_in_invoke_and_stream(chat_tokenizer, output):
    chat = scripted(chat_tokenizer, output).bind_tools([get_weather])
    message = chat.invoke("Hi")
    assert message.tool_calls == [] and message.content == output.strip()
    _, total = streamed(chat, "Hi")
    assert total.tool_calls == [] and total.content == output.strip()


def test_without_bound_tools_a_call_is_just_text(chat_tokenizer):
    chat = scripted(chat_tokenizer, QWEN_CALL)
    assert chat.invoke("Hi").tool_calls == []
    assert chat.invoke("Hi").content == QWEN_CALL


def test_prompt_renders_tools_history_and_tool_results_with_the_template(chat_tokenizer):
    chat = scripted(chat_tokenizer, "It is sunny.")
    history = [
        SystemMessage("You are a weather bot."),
        HumanMessage("Weather in Paris?"),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1"}]),
        ToolMessage("sunny", tool_call_id="call_1"),
    ]
    prompt = chat.render(history, tools=[get_weather])
    assert '"name": "get_weather", "description": "Return the current weather in a city."' in prompt
    assert prompt.startswith("<|im_start|>system\nYou are a weather bot.\n\n# Tools")
    assert '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>' in prompt
    assert "<|im_start|>user\n<tool_response>\nsunny\n</tool_response><|im_end|>" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")
    chat.bind_tools([get_weather]).invoke(history)
    assert chat.llm.prompts[-1] == prompt  # what the model is given is what render shows


def test_tool_choice(chat_tokenizer):
    chat = scripted(chat_tokenizer, QWEN_CALL)
    assert "get_weather" not in chat.render("Hi", tools=[get_weather], tool_choice="none")
    only_time = chat.render("Hi", tools=[get_weather, get_time], tool_choice="get_time")
    assert '"name": "get_time"' in only_time and "get_weather" not in only_time
    assert chat.bind_tools([get_weather], tool_choice="none").invoke("Hi").tool_calls == []
    forced = chat.render("Hi", tools=[get_weather], tool_choice="any")
    assert forced.endswith("<|im_start|>assistant\n<tool_call>\n")  # the answer starts as a call
    with pytest.raises(InvalidInputError, match="tool_choice must be"):
        chat.bind_tools([get_weather], tool_choice="launch_rocket")


def test_with_structured_output_returns_the_schema(chat_tokenizer):
    # The forced call starts the answer with "<tool_call>\n"; the model writes the rest.
    chat = scripted(chat_tokenizer, '{"name": "Weather", "arguments": {"city": "Paris", "celsius": 21}}\n</tool_call>')
    result = chat.with_structured_output(Weather).invoke("How warm is Paris?")
    assert result == Weather(city="Paris", celsius=21)
    assert '"name": "Weather"' in chat.llm.prompts[-1]
    assert chat.llm.prompts[-1].endswith("<|im_start|>assistant\n<tool_call>\n")
    raw = chat.with_structured_output(Weather, include_raw=True).invoke("How warm is Paris?")
    assert raw["parsed"] == Weather(city="Paris", celsius=21) and raw["raw"].tool_calls


def test_agent_runs_the_tool_and_answers_with_its_result(chat_tokenizer):
    from langchain.agents import create_agent

    weather_runs.clear()
    model = scripted(chat_tokenizer, QWEN_CALL, "It is sunny in Paris.")
    agent = create_agent(model, tools=[get_weather])
    result = agent.invoke({"messages": [HumanMessage("What is the weather in Paris?")]})
    messages = result["messages"]
    assert weather_runs == ["Paris"]
    assert [type(m).__name__ for m in messages] == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    assert messages[2].tool_call_id == messages[1].tool_calls[0]["id"]
    assert messages[-1].content == "It is sunny in Paris."
    assert "<tool_response>\nsunny\n</tool_response>" in model.llm.prompts[-1]


def test_non_text_content_and_missing_tokenizer_are_refused(chat_tokenizer):
    chat = scripted(chat_tokenizer, "ok")
    image = HumanMessage(content=[{"type": "image", "url": "https://example.com/cat.png"}])
    with pytest.raises(InvalidInputError, match="text only"):
        chat.invoke([image])
    with pytest.raises(InvalidInputError, match="needs tokenizer="):
        ChatLocalModel(llm=ScriptedLLM(responses=["ok"], prompts=[])).invoke("Hi")


def test_marker_tokens_survive_decoding(chat_tokenizer):
    from genlab.models.generation import skipped_token_ids
    from genlab.models.tool_calls import MARKER_TOKENS

    skipped = skipped_token_ids(chat_tokenizer, MARKER_TOKENS)
    ids = chat_tokenizer.convert_tokens_to_ids(["<tool_call>", "</tool_call>", "<|im_end|>", "<|endoftext|>"])
    assert ids[0] not in skipped and ids[1] not in skipped
    assert ids[2] in skipped and ids[3] in skipped


# --- The whole model on the tiny random chat model -------------------------------------------


@pytest.fixture(scope="module")
def chat_path(tiny_models) -> str:
    return str(tiny_models.chat)


def test_local_chat_model_generates_and_streams_the_same(chat_path):
    chat = load_chat_model(chat_path, max_new_tokens=12, temperature=1.0, seed=3).bind_tools([get_weather])
    message = chat.invoke("What is the weather in Paris?")
    assert isinstance(message, AIMessage) and isinstance(message.content, str) and message.content
    assert message.response_metadata["model_name"] == chat_path
    _, total = streamed(chat, "What is the weather in Paris?")
    assert total.content == message.content and total.tool_calls == message.tool_calls


def test_seeded_batch_runs_in_threads_and_still_matches_invoke(chat_path):
    chat = load_chat_model(chat_path, max_new_tokens=8, temperature=1.0, seed=5)
    prompts = ["Hi", "Hello there", "Hey"]
    # BaseChatModel.batch invokes on a thread pool: seeded calls must not share random draws.
    assert [m.content for m in chat.batch(prompts)] == [chat.invoke(p).content for p in prompts]


def test_local_chat_model_is_built_lazily_and_shares_the_llm_model(chat_path, monkeypatch):
    runtime = runtime_module.ModelRuntime()
    monkeypatch.setattr(runtime_module, "_RUNTIME", runtime)
    chat = load_chat_model(chat_path, max_new_tokens=4)
    llm = load_llm(chat_path, max_new_tokens=4)
    assert runtime.loaded() == []
    chat.invoke("Hi")
    llm.invoke("Hi")
    assert runtime.load_counts[runtime.key_for("chat", chat_path)] == 1 and len(runtime.loaded()) == 1


def test_create_agent_runs_a_turn_on_the_tiny_chat_model(chat_path):
    from langchain.agents import create_agent

    agent = create_agent(load_chat_model(chat_path, max_new_tokens=8, temperature=1.0, seed=0), tools=[get_weather])
    result = agent.invoke({"messages": [HumanMessage("What is the weather in Paris?")]})
    assert isinstance(result["messages"][1], AIMessage)
    assert isinstance(result["messages"][-1], AIMessage)


def test_a_base_model_without_chat_template_is_refused(tiny_models):
    chat = load_chat_model(str(tiny_models.causal), max_new_tokens=4)
    with pytest.raises(ModelUnavailableError, match="no chat template"):
        chat.invoke("Hi")


def test_load_chat_model_refuses_bad_settings():
    with pytest.raises(InvalidInputError, match="unknown setting"):
        load_chat_model(temprature=0.3)
    with pytest.raises(InvalidInputError, match="top_p must be"):
        load_chat_model(top_p=2)
