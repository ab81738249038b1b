"""The model seam: model strings, the LangChain class each gives, settings mapping, injection.

Building a model contacts nothing; the tests against a real server live in
tests/test_servers_openai.py.
"""

from __future__ import annotations

import pytest
from langchain_core.language_models import BaseChatModel, BaseLLM

from genlab.errors import InvalidInputError, ModelUnavailableError
from genlab.models import load_chat_model, load_llm, parse_model, resolve_model
from genlab.models.backends import split_provider
from genlab.settings import Settings, get_settings, use_settings


@pytest.mark.parametrize(
    ("text", "provider", "name"),
    [
        ("Qwen/Qwen2.5-1.5B-Instruct", "local", "Qwen/Qwen2.5-1.5B-Instruct"),
        ("./models/my-model", "local", "./models/my-model"),
        ("/abs/path/model.gguf", "local", "/abs/path/model.gguf"),
        (
            "Qwen/Qwen2.5-0.5B-Instruct-GGUF:qwen2.5-0.5b-instruct-q4_k_m.gguf",
            "local",
            "Qwen/Qwen2.5-0.5B-Instruct-GGUF:qwen2.5-0.5b-instruct-q4_k_m.gguf",
        ),
        ("C:\\models\\qwen", "local", "C:\\models\\qwen"),
        ("openai:Qwen/Qwen2.5-1.5B-Instruct", "openai", "Qwen/Qwen2.5-1.5B-Instruct"),
        ("openai:/srv/models/qwen", "openai", "/srv/models/qwen"),
        ("ollama:qwen2.5:1.5b", "ollama", "qwen2.5:1.5b"),
        ("anthropic:claude-x", "anthropic", "claude-x"),
        ("  openai:  gpt-4o-mini ", "openai", "gpt-4o-mini"),
    ],
)
def test_model_strings_name_where_the_model_runs(text: str, provider: str, name: str) -> None:
    assert split_provider(text) == (provider, name)


def test_base_urls_come_from_the_provider_and_a_role_may_override_them() -> None:
    settings = Settings(
        chat_model="openai:served",
        text_model="openai:served",
        openai_base_url="http://127.0.0.1:8000/v1/",
        chat_base_url="http://127.0.0.1:9000/v1",
        few_shot_model="ollama:llama3",
    )
    assert parse_model("text", settings=settings).base_url == "http://127.0.0.1:8000/v1"
    assert parse_model("chat", settings=settings).base_url == "http://127.0.0.1:9000/v1"
    assert parse_model("few_shot", settings=settings).base_url == "http://localhost:11434"
    assert parse_model("summary", settings=settings).provider == "local"


@pytest.mark.parametrize(
    ("role", "model", "message"),
    [
        ("image", "openai:sd", "runs locally only"),
        ("embedding", "ollama:nomic", "runs locally only"),
        ("chat", "openai:", "names no model"),
        ("nope", None, "unknown role"),
    ],
)
def test_model_strings_a_role_cannot_take_are_refused_in_one_line(role: str, model: str | None, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse_model(role, model)


@pytest.mark.parametrize("value", ["localhost:8000", "ftp://host/v1", "http://", "not a url"])
def test_server_urls_are_validated(value: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="http:// or https:// URL"):
        Settings(openai_base_url=value)


def test_empty_urls_mean_unset() -> None:
    assert Settings(openai_base_url="", chat_base_url="  ").openai_base_url is None


def test_openai_models_get_the_server_the_key_and_the_generation_settings() -> None:
    from langchain_openai import ChatOpenAI, OpenAI

    settings = Settings(openai_base_url="http://127.0.0.1:8000/v1", request_timeout=7)
    chat = load_chat_model(
        "openai:served", settings=settings, max_new_tokens=33, temperature=0.4, top_p=0.9, seed=3, stop=["END"], top_k=5
    )
    assert isinstance(chat, ChatOpenAI)
    assert chat.model_name == "served" and chat.openai_api_base == "http://127.0.0.1:8000/v1"
    assert chat.max_tokens == 33 and chat.temperature == 0.4 and chat.top_p == 0.9 and chat.seed == 3
    assert chat.stop == ["END"] and chat.extra_body == {"top_k": 5}
    assert chat.request_timeout == 7 and chat.max_retries == 1
    assert chat.openai_api_key.get_secret_value() == "EMPTY"  # local servers accept any key

    llm = load_llm("openai:served", settings=settings, stop=["\n"], do_sample=False)
    assert isinstance(llm, OpenAI)
    assert llm.model_kwargs == {"stop": ["\n"]} and llm.temperature == 0.0


def test_openai_without_a_server_or_a_key_says_which_setting_to_set() -> None:
    with pytest.raises(ModelUnavailableError, match="GENLAB_OPENAI_BASE_URL"):
        load_chat_model("openai:gpt-4o-mini", settings=Settings())
    chat = load_chat_model("openai:gpt-4o-mini", settings=Settings(openai_api_key="sk-test"))
    assert chat.openai_api_base is None  # OpenAI's own API


def test_ollama_models_get_ollama_names_for_the_same_settings() -> None:
    from langchain_ollama import ChatOllama, OllamaLLM

    settings = Settings(ollama_base_url="http://127.0.0.1:11434")
    chat = load_chat_model("ollama:qwen2.5:1.5b", settings=settings, max_new_tokens=20, repetition_penalty=1.1, temperature=0)
    assert isinstance(chat, ChatOllama)
    assert (chat.model, chat.base_url, chat.num_predict, chat.repeat_penalty, chat.temperature) == (
        "qwen2.5:1.5b",
        "http://127.0.0.1:11434",
        20,
        1.1,
        0.0,
    )
    assert isinstance(load_llm("ollama:qwen2.5:1.5b", settings=settings), OllamaLLM)


@pytest.mark.parametrize("factory", [load_llm, load_chat_model])
@pytest.mark.parametrize(
    ("setting", "message"), [({"max_new_tokens": 0}, "max_new_tokens"), ({"temperatur": 1.0}, "unknown setting")]
)
def test_generation_settings_are_checked_once_for_every_provider(factory, setting, message) -> None:
    settings = Settings(openai_base_url="http://127.0.0.1:8000/v1")
    for model in ("openai:served", "ollama:x", None):
        with pytest.raises(InvalidInputError, match=message):
            factory(model, settings=settings, **setting)


def test_resolve_model_gives_local_llms_and_server_chat_models(tiny_env) -> None:
    from genlab.models import ChatLocalModel, LocalLLM

    assert isinstance(resolve_model("text"), LocalLLM)
    assert isinstance(resolve_model("chat"), ChatLocalModel)
    served = resolve_model("text", "openai:served", settings=Settings(openai_base_url="http://127.0.0.1:8000/v1"))
    assert isinstance(served, BaseChatModel) and not isinstance(served, BaseLLM)


def test_an_unknown_provider_is_a_clear_unavailable_model() -> None:
    with pytest.raises(ModelUnavailableError, match="provider"):
        load_chat_model("nosuchprovider:model", settings=Settings())


def test_injected_settings_reach_the_tools_and_their_models(tiny_models, tmp_path, monkeypatch) -> None:
    """default_tools(settings) runs every tool under those settings, not the process's."""
    from genlab.agents import default_tools

    # The process settings point at nothing usable; the injected ones at the tiny models.
    monkeypatch.setenv("GENLAB_SUMMARY_MODEL", str(tmp_path / "missing"))
    monkeypatch.setenv("GENLAB_MAX_INPUT_CHARS", "10")
    get_settings.cache_clear()
    settings = Settings(summary_model=str(tiny_models.t5), max_input_chars=10_000, home=tmp_path)
    tools = {t.name: t for t in default_tools(settings)}
    summary = tools["summarize"].invoke({"text": "the cat is a story of the model and the image. " * 3})
    assert isinstance(summary, str) and not summary.startswith("Error")
    with use_settings(settings):
        assert get_settings() is settings
    assert get_settings() is not settings


def test_building_a_server_model_contacts_nothing() -> None:
    """A port nothing listens on: building succeeds, only a call fails."""
    chat = load_chat_model("openai:served", settings=Settings(openai_base_url="http://127.0.0.1:9/v1"))
    assert chat.model_name == "served"
