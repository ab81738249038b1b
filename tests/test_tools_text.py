"""summarize, classify_zero_shot and classify_few_shot on tiny models, through the runtime."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from genlab.tools import (
    ToolInputError,
    classify_few_shot,
    classify_few_shot_text,
    classify_zero_shot,
    classify_zero_shot_text,
    plan_chunks,
    summarize,
    summarize_text,
)
from genlab.tools.classification import FewShotExample, few_shot_prompt, match_label

# Words of the tiny T5's vocabulary, so the tokenizer counts about one token per word.
LONG_TEXT = " ".join(f"the cat is a story of the model and the image in the music number {i}." for i in range(40))


class CallSpy:
    """Records what a real pipeline is called with, and calls it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, pipe: Any) -> None:
        self.inputs: list[Any] = []
        self.kwargs: list[dict[str, Any]] = []
        original = type(pipe).__call__

        def spy(this, inputs, *args, **kwargs):
            if this is pipe:
                self.inputs.append(inputs)
                self.kwargs.append(kwargs)
            return original(this, inputs, *args, **kwargs)

        monkeypatch.setattr(type(pipe), "__call__", spy)


# --- summarize ---------------------------------------------------------------------------


def test_short_text_is_summarized_in_one_call(tiny_env, monkeypatch) -> None:
    from genlab.models import get_model

    pipe = get_model("summary")
    spy = CallSpy(monkeypatch, pipe)
    summary = summarize.invoke({"text": "the cat is a story of the model."})
    assert isinstance(summary, str) and summary
    assert spy.inputs == ["summarize: the cat is a story of the model."]  # the model's own task prefix
    assert "max_new_tokens" in spy.kwargs[0]  # not generate()'s 20-token fallback
    expected = pipe("summarize: the cat is a story of the model.", **spy.kwargs[0])[0]["generated_text"].strip()
    assert summary == expected


def test_long_text_is_split_into_chunks_that_fit_and_lose_nothing(tiny_env) -> None:
    from genlab.models import get_model

    tokenizer = get_model("summary").tokenizer
    assert tokenizer.model_max_length == 64
    assert len(tokenizer("summarize: " + LONG_TEXT)["input_ids"]) > 64 * 5
    chunks = plan_chunks(LONG_TEXT)
    assert len(chunks) > 5
    for chunk in chunks:
        assert len(tokenizer("summarize: " + chunk)["input_ids"]) <= 64
    assert " ".join(chunks).split() == LONG_TEXT.split()  # every word, in order, once


def test_long_text_is_summarized_map_reduce_without_truncation(tiny_env, monkeypatch) -> None:
    from genlab.models import get_model

    pipe = get_model("summary")
    chunks = plan_chunks(LONG_TEXT)
    spy = CallSpy(monkeypatch, pipe)
    summary = summarize_text(LONG_TEXT, max_words=12)
    assert len(summary.split()) <= 12
    assert len(spy.inputs) > len(chunks)  # every chunk, then the summaries of the summaries
    assert spy.inputs[: len(chunks)] == ["summarize: " + chunk for chunk in chunks]
    for text, kwargs in zip(spy.inputs, spy.kwargs, strict=False):
        assert len(pipe.tokenizer(text)["input_ids"]) <= 64
        assert kwargs.get("truncation") is False


def test_max_words_caps_the_summary(tiny_env) -> None:
    summary = summarize_text("the cat is a story of the model and the image.", max_words=5)
    assert 0 < len(summary.split()) <= 5


@pytest.mark.parametrize("role_model", ["chat", "causal"])
def test_an_instruct_model_can_summarize(tiny_env, role_model: str, completions) -> None:
    calls = completions
    model = str(getattr(tiny_env, role_model))
    summary = summarize_text("Paris is the capital of France. It is large.", max_words=6, model=model)
    assert isinstance(summary, str) and len(summary.split()) <= 6
    [(prompt, kwargs)] = calls
    assert "Paris is the capital of France. It is large." in prompt
    assert "at most 6 words" in prompt
    if role_model == "chat":
        assert prompt.startswith("<|im_start|>") and prompt.endswith("<|im_start|>assistant\n")
        # The chat template already put the special tokens in: none are added twice (no double BOS).
        assert kwargs["add_special_tokens"] is False
    else:
        assert kwargs["add_special_tokens"] is True


def test_an_instruct_model_splits_text_longer_than_its_context(tiny_env) -> None:
    from genlab.models import get_model

    model = str(tiny_env.causal)
    pipe = get_model("summary", model)
    text = "\n\n".join(f"Paragraph {i}: " + "a few words here. " * 30 for i in range(8))
    assert len(pipe.tokenizer(text)["input_ids"]) > pipe.model.config.n_positions
    chunks = plan_chunks(text, model=model)
    assert len(chunks) > 1
    assert " ".join(chunks).split() == text.split()
    for chunk in chunks:
        assert len(pipe.tokenizer(chunk)["input_ids"]) < pipe.model.config.n_positions


def test_summarize_async(tiny_env) -> None:
    result = asyncio.run(summarize.ainvoke({"text": "the model is a cat."}))
    assert isinstance(result, str)


# --- zero-shot -----------------------------------------------------------------------------


def test_zero_shot_returns_every_label_sorted_by_score(tiny_env) -> None:
    labels = ["sports", "politics", "cooking", "music"]
    result = classify_zero_shot.invoke({"text": "The match ended two to one.", "labels": labels})
    assert set(result) == {"labels", "scores"}
    assert sorted(result["labels"]) == sorted(labels)
    assert result["scores"] == sorted(result["scores"], reverse=True)
    assert sum(result["scores"]) == pytest.approx(1.0, abs=1e-4)


def test_zero_shot_scores_are_the_models(tiny_env) -> None:
    from genlab.models import get_model

    raw = get_model("zero_shot")("I love it", candidate_labels=["positive", "negative"], multi_label=True)
    ours = classify_zero_shot_text("I love it", [" positive ", "negative"], multi_label=True)
    assert dict(zip(ours.labels, ours.scores, strict=False)) == pytest.approx(
        dict(zip(raw["labels"], raw["scores"], strict=False))
    )
    assert all(0.0 <= s <= 1.0 for s in ours.scores)


def test_zero_shot_refuses_text_longer_than_the_model_reads(tiny_env) -> None:
    with pytest.raises(ToolInputError, match="reads at most 512"):
        classify_zero_shot_text("word " * 600, ["a", "b"])
    with pytest.raises(ToolInputError, match="summarize the text first"):
        classify_zero_shot.invoke({"text": "word " * 600, "labels": ["a", "b"]})


# --- few-shot -----------------------------------------------------------------------------

REVIEWS = [
    {"text": "The pasta was wonderful and the staff were kind.", "label": "positive"},
    {"text": "Cold soup, rude waiter, never again.", "label": "negative"},
]


def test_few_shot_prompt_follows_the_course_format() -> None:
    examples = [FewShotExample(**e) for e in REVIEWS]
    prompt = few_shot_prompt("Lovely ### dessert", ["positive", "negative"], examples)
    blocks = prompt.split("\n###\n")
    assert blocks[0] == "Classify each text as one of: positive, negative."
    assert blocks[1] == "Text: The pasta was wonderful and the staff were kind.\nLabel: positive"
    assert blocks[2] == "Text: Cold soup, rude waiter, never again.\nLabel: negative"
    assert blocks[3] == "Text: Lovely # dessert\nLabel:"  # a separator inside a text cannot end it


@pytest.mark.parametrize(
    ("answer", "label"),
    [
        (" positive", "positive"),
        (" Positive.\n###\nText: ...", "positive"),
        ("NEGATIVE", "negative"),
        (" negative, because the soup was cold", "negative"),
        ("\n\n positive", "positive"),
        (" very positive", "unknown"),
        (" positively", "unknown"),
        ("###positive", "unknown"),
        ("", "unknown"),
        (" not sure", "unknown"),
        (" mixed feelings", "mixed feelings"),
        (" mixed", "mixed"),
    ],
)
def test_answers_are_mapped_onto_the_labels(answer: str, label: str) -> None:
    assert match_label(answer, ["positive", "negative", "mixed", "mixed feelings"]) == label


def test_few_shot_runs_on_a_causal_model_and_stops_at_the_separator(tiny_env, monkeypatch) -> None:
    from genlab.models import LocalLLM, load_llm

    calls: list[tuple[list[str], dict[str, Any]]] = []
    original = LocalLLM.complete

    def spy(self, prompts, stop=None, **kwargs):
        calls.append((prompts, {"stop": [*(self.stop or []), *(stop or [])], **self._call_settings(kwargs)[0]}))
        return original(self, prompts, stop, **kwargs)

    monkeypatch.setattr(LocalLLM, "complete", spy)
    label = classify_few_shot.invoke({"text": "Great pizza!", "labels": ["positive", "negative"], "examples": REVIEWS})
    assert label in {"positive", "negative", "unknown"}
    [([prompt], settings)] = calls
    assert prompt.endswith("Text: Great pizza!\nLabel:")
    assert settings["stop"] == ["###"] and settings["temperature"] == 0  # greedy, stopped at the separator
    # The label is the model's own greedy answer, mapped onto the labels.
    raw = load_llm(role="few_shot", temperature=0, stop=["###"], max_new_tokens=settings["max_new_tokens"]).invoke(prompt)
    assert label == match_label(raw, ["positive", "negative"])


def test_few_shot_refuses_a_prompt_longer_than_the_model_reads(tiny_env) -> None:
    examples = [{"text": "long example " * 40, "label": "a"}] * 5
    with pytest.raises(ToolInputError, match="too long for the few-shot model"):
        classify_few_shot_text("text", ["a", "b"], examples)


def test_few_shot_example_labels_are_matched_case_insensitively(tiny_env) -> None:
    label = classify_few_shot_text("fine", ["Positive", "Negative"], [{"text": "good", "label": "positive"}])
    assert label in {"Positive", "Negative", "unknown"}
