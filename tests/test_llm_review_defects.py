"""The defects a review of ``genlab.models`` found, each tested where a user would notice it.

Scripted models (a bigram table: exact text, special tokens included) stand in where a random
tiny model cannot produce the text a defect needs; the tiny random models do the rest.
"""

from __future__ import annotations

import threading

import pytest
import scripted_models
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from genlab.errors import InvalidInputError
from genlab.models import ChatLocalModel, LocalLLM, load_chat_model, load_llm

ANSWER = " Ok."
INVENTED_TURN = "<|im_start|>user\nfin"
SCRIPT = ANSWER + INVENTED_TURN + "<|im_end|>"
PROMPT = "Q: hi\nA:"
GREEDY = {"max_new_tokens": 24, "repetition_penalty": 1.5, "do_sample": False}


@pytest.fixture(scope="module")
def bigram_path(tiny_models, tmp_path_factory) -> str:
    """After ``:`` it says `` Ok.``, then invents a user turn (``<|im_start|>user``...)."""
    return str(scripted_models.build_bigram_lm(tmp_path_factory.mktemp("bigram"), tiny_models.chat, SCRIPT, start=":"))


@pytest.fixture(scope="module")
def causal_path(tiny_models) -> str:
    return str(tiny_models.causal)


# 1. A stop sequence that is a special token ------------------------------------------------


def test_a_special_token_stop_cuts_invoke_batch_and_stream(bigram_path):
    llm = load_llm(bigram_path, max_new_tokens=30)
    assert llm.invoke(PROMPT) == ANSWER + "user\nfin"  # the special token itself is never shown
    stop = ["<|im_start|>"]
    assert llm.invoke(PROMPT, stop=stop) == ANSWER
    assert llm.batch([PROMPT, "A:"], stop=stop) == [ANSWER, ANSWER]
    assert "".join(llm.stream(PROMPT, stop=stop)) == ANSWER
    assert load_llm(bigram_path, max_new_tokens=30, stop=["<|im_start|>user"]).invoke(PROMPT) == ANSWER


# 2. pipeline_kwargs are not overwritten by the field default --------------------------------


def test_pipeline_kwargs_max_new_tokens_is_honoured(causal_path):
    llm = LocalLLM.from_model_id(causal_path, task="text-generation", pipeline_kwargs={"max_new_tokens": 10})
    info = llm.generate(["Hello"]).generations[0][0].generation_info
    assert info["output_tokens"] <= 10
    prebuilt = LocalLLM(pipeline=llm.pipeline, pipeline_kwargs={"max_new_tokens": 7})
    assert prebuilt.generate(["Hello"]).generations[0][0].generation_info["output_tokens"] <= 7
    # An explicit field still wins over pipeline_kwargs.
    both = LocalLLM(pipeline=llm.pipeline, pipeline_kwargs={"max_new_tokens": 7}, max_new_tokens=3)
    assert both.generate(["Hello"]).generations[0][0].generation_info["output_tokens"] <= 3


# 3. A seeded call is reproducible while another model samples on another thread -------------


def test_seeded_call_is_reproducible_under_concurrent_sampling(causal_path, tiny_models):
    seeded = load_llm(causal_path, max_new_tokens=40, temperature=1.0, seed=11)
    alone = seeded.invoke("Once upon a time")
    other = load_llm(str(tiny_models.chat), max_new_tokens=40, temperature=1.0)  # another model, unseeded
    done = threading.Event()

    def sample_elsewhere() -> None:
        while not done.is_set():
            other.invoke("Hello")

    worker = threading.Thread(target=sample_elsewhere)
    worker.start()
    try:
        again = [seeded.invoke("Once upon a time") for _ in range(3)]
    finally:
        done.set()
        worker.join()
    assert again == [alone] * 3


# 4. Token counts use the model's tokenizer and chat template ---------------------------------


def test_token_counts_use_the_tokenizer_and_the_chat_template(causal_path, tiny_models):
    llm = load_llm(causal_path)
    assert llm.get_num_tokens("Hello world") == len(llm.tokenizer("Hello world", add_special_tokens=False)["input_ids"]) > 0
    chat = load_chat_model(str(tiny_models.chat))
    messages = [HumanMessage("What is the capital of France?")]
    rendered = chat.get_tokenizer().apply_chat_template([{"role": "user", "content": messages[0].content}], tokenize=False)
    expected = len(chat.get_tokenizer()(rendered, add_special_tokens=False)["input_ids"])
    assert chat.get_num_tokens_from_messages(messages) == expected > chat.get_num_tokens(messages[0].content)


# 5. One over-long prompt fails alone --------------------------------------------------------


def test_an_over_long_prompt_fails_alone_in_a_batch(causal_path):
    llm = load_llm(causal_path, **GREEDY)
    too_long = "word " * 400  # 2000 byte tokens; the model reads 1024
    results = llm.batch(["Hello world", too_long, "Hi"], return_exceptions=True)
    assert results[0] == llm.invoke("Hello world") and results[2] == llm.invoke("Hi")
    assert isinstance(results[1], InvalidInputError) and "context of 1024 tokens" in str(results[1])
    with pytest.raises(InvalidInputError, match="context"):
        llm.batch(["Hello world", too_long])


def test_an_over_long_document_fails_alone_in_summarize_document(causal_path):
    from genlab.chains import summarize_document

    chain = summarize_document(load_llm(causal_path, max_new_tokens=8), chunk_chars=5000, chunk_overlap=0)
    results = chain.batch(["A short note about GANs.", "word " * 900], return_exceptions=True)
    assert isinstance(results[0], dict) and results[0]["chunks"] == 1
    assert isinstance(results[1], InvalidInputError)


def test_the_context_check_reserves_what_the_call_asks_for(causal_path):
    llm = load_llm(causal_path, do_sample=False)
    long_prompt = "a" * 900  # 900 tokens: the default 256 new tokens would not fit in 1024
    result = llm.generate([long_prompt]).generations[0][0]
    assert 0 < result.generation_info["output_tokens"] <= 124
    with pytest.raises(InvalidInputError, match="max_new_tokens=200"):
        llm.invoke(long_prompt, max_new_tokens=200)  # asked for explicitly: refused, not cut


# 6. A template that takes one tool call per message ----------------------------------------

LLAMA_LIKE_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message.role == 'assistant' and message.tool_calls %}"
    "{%- if message.tool_calls | length != 1 %}"
    "{{- raise_exception('This model only supports single tool-calls at once!') }}{%- endif %}"
    "{%- set call = message.tool_calls[0].function %}"
    '{{- \'<|im_start|>assistant\\n{"name": "\' + call.name + \'", "parameters": \' }}'
    "{{- call.arguments | tojson + '}<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


@tool
def get_weather(city: str) -> str:
    """Return the current weather in a city."""
    return "sunny"


@tool
def get_time(city: str) -> str:
    """Return the local time in a city."""
    return "noon"


@pytest.fixture
def llama_like_tokenizer(tiny_models):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_models.chat)
    tokenizer.chat_template = LLAMA_LIKE_TEMPLATE
    return tokenizer


def _scripted_chat(tokenizer, *answers: str) -> ChatLocalModel:
    from langchain_core.language_models.fake import FakeStreamingListLLM

    return ChatLocalModel(llm=FakeStreamingListLLM(responses=list(answers)), tokenizer=tokenizer)


def test_a_single_call_template_gets_one_call_per_answer_and_renders_parallel_history(llama_like_tokenizer):
    two_calls = (
        '[{"name": "get_weather", "parameters": {"city": "Paris"}}, {"name": "get_time", "parameters": {"city": "Paris"}}]'
    )
    chat = _scripted_chat(llama_like_tokenizer, two_calls, "It is sunny at noon.").bind_tools([get_weather, get_time])
    message = chat.invoke("Weather and time in Paris?")
    assert [c["name"] for c in message.tool_calls] == ["get_weather"]
    # A history whose answer carries two calls (from another model) still renders, each call
    # followed by its own result.
    history = [
        HumanMessage("Weather and time in Paris?"),
        AIMessage(
            "",
            tool_calls=[
                {"name": "get_weather", "args": {"city": "Paris"}, "id": "a"},
                {"name": "get_time", "args": {"city": "Paris"}, "id": "b"},
            ],
        ),
        ToolMessage("sunny", tool_call_id="a"),
        ToolMessage("noon", tool_call_id="b"),
    ]
    prompt = _scripted_chat(llama_like_tokenizer).render(history)
    assert prompt.index("get_weather") < prompt.index("sunny") < prompt.index("get_time") < prompt.index("noon")


# 7. The summarize tool sends one BOS --------------------------------------------------------


def test_the_summarize_tool_sends_a_single_bos_through_the_chat_template(tmp_path, monkeypatch):
    from genlab.models import get_model
    from genlab.settings import get_settings
    from genlab.tools import summarize

    folder = scripted_models.build_bos_lm(tmp_path / "bos")
    monkeypatch.setenv("GENLAB_SUMMARY_MODEL", str(folder))
    get_settings.cache_clear()
    pipe = get_model("summary")
    bos = pipe.tokenizer.bos_token_id
    seen: list[list[int]] = []
    original = pipe.model.generate

    def generate(*args, **kwargs):
        seen.append(kwargs["input_ids"][0].tolist())
        return original(*args, **kwargs)

    monkeypatch.setattr(pipe.model, "generate", generate)
    summarize.invoke({"text": "GANs pit a generator against a discriminator.", "max_words": 5})
    assert seen and seen[0][0] == bos and seen[0][1] != bos


# 8. Usage, generation info and finish reason on every result -------------------------------


def test_llm_results_carry_usage_and_finish_reason(causal_path, bigram_path):
    llm = load_llm(causal_path, max_new_tokens=5, do_sample=False)
    result = llm.generate(["Hello world"])
    info = result.generations[0][0].generation_info
    assert info == {"finish_reason": "length", "input_tokens": 11, "output_tokens": 5}
    assert result.llm_output["token_usage"] == {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16}
    stopped = load_llm(bigram_path, max_new_tokens=30).generate([PROMPT], stop=["<|im_start|>"])
    assert stopped.generations[0][0].generation_info["finish_reason"] == "stop"
    chunks = list(llm._stream("Hello world"))  # what LangChain's stream merges for on_llm_end
    assert chunks[-1].generation_info == info and "".join(c.text for c in chunks) == llm.invoke("Hello world")


def test_chat_results_carry_usage_metadata_and_finish_reason(tiny_models, tmp_path):
    cut = load_chat_model(str(tiny_models.chat), max_new_tokens=3, do_sample=False).invoke("Hi")
    assert cut.response_metadata["finish_reason"] == "length" and cut.usage_metadata["output_tokens"] == 3
    assert cut.usage_metadata["input_tokens"] > 3
    streamed = None
    for chunk in load_chat_model(str(tiny_models.chat), max_new_tokens=3, do_sample=False).stream("Hi"):
        streamed = chunk if streamed is None else streamed + chunk
    assert streamed.usage_metadata == cut.usage_metadata and streamed.response_metadata["finish_reason"] == "length"
    # A model that ends its answer (chat prompts end in "\n"): finish reason "stop".
    folder = scripted_models.build_bigram_lm(tmp_path / "paris", tiny_models.chat, "Paris.<|im_end|>", start="\n")
    answer = load_chat_model(str(folder), max_new_tokens=30).invoke("Capital of France?")
    assert answer.content == "Paris." and answer.response_metadata["finish_reason"] == "stop"
    assert answer.usage_metadata["output_tokens"] == 7  # six characters and the end-of-turn token


# 9. stop is part of the cache key -----------------------------------------------------------


def test_a_stopped_llm_does_not_get_an_unstopped_cached_answer(causal_path):
    from langchain_core.caches import InMemoryCache

    cache = InMemoryCache()
    plain = load_llm(causal_path, **GREEDY)
    plain.cache = cache
    text = plain.invoke("Hello world")
    stop = text[len(text) // 2]
    stopped = load_llm(causal_path, stop=[stop], **GREEDY)
    stopped.cache = cache
    assert stop not in stopped.invoke("Hello world")


# 10. A seeded row does not depend on its batch ------------------------------------------------


def test_a_seeded_row_does_not_depend_on_the_rest_of_its_batch(causal_path):
    llm = load_llm(causal_path, max_new_tokens=16, temperature=1.0, seed=4)
    alone = llm.invoke("Once upon a time")
    assert llm.batch(["Once upon a time", "Hi"])[0] == alone
    assert llm.batch(["Hello there, friend", "Once upon a time", "x"])[1] == alone
    assert "".join(llm.stream("Once upon a time")) == alone


# Also: the tokenizer's own response parser comes first -------------------------------------


def test_a_tokenizer_response_template_is_used_first_and_the_lenient_parser_after(tiny_models, monkeypatch):
    from types import SimpleNamespace

    from transformers import AutoTokenizer
    from transformers.cli.serving.utils import get_response_template

    tokenizer = AutoTokenizer.from_pretrained(tiny_models.chat)
    tokenizer.response_template = get_response_template(tokenizer, SimpleNamespace(config=SimpleNamespace(model_type="qwen2")))
    used: list[str] = []
    original = tokenizer.parse_response

    def parse_response(text, *args, **kwargs):
        used.append(text)
        return original(text, *args, **kwargs)

    monkeypatch.setattr(tokenizer, "parse_response", parse_response)
    call = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    message = _scripted_chat(tokenizer, call).bind_tools([get_weather]).invoke("Weather in Paris?")
    assert used and [(c["name"], c["args"]) for c in message.tool_calls] == [("get_weather", {"city": "Paris"})]
    broken = '<tool_call>\n{"name": "get_weather", "arguments": {"city": \n</tool_call>'  # its parser raises on this
    message = _scripted_chat(tokenizer, broken).bind_tools([get_weather]).invoke("Weather in Paris?")
    assert message.tool_calls == [] and "get_weather" in message.content
