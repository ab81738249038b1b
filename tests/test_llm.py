"""The text LLM (``load_llm`` / ``LocalLLM``) on the tiny random causal LM: real generation."""

from __future__ import annotations

import pytest
import torch

from genlab.errors import InvalidInputError, ModelUnavailableError
from genlab.models import LocalLLM, load_llm
from genlab.models import runtime as runtime_module

PROMPTS = ["Hello world", "Hi", "A much longer prompt than the other ones", "The quick brown fox", "x"]
# A repetition penalty keeps the random model from repeating one byte: varied greedy text.
GREEDY = {"max_new_tokens": 24, "repetition_penalty": 1.5, "do_sample": False}


@pytest.fixture(scope="module")
def causal_path(tiny_models) -> str:
    return str(tiny_models.causal)


@pytest.fixture
def llm(causal_path) -> LocalLLM:
    return load_llm(causal_path, **GREEDY)


class GenerateSpy:
    """Wraps a model's real ``generate`` to record each call's input and output shapes."""

    def __init__(self, model, monkeypatch):
        self.calls: list[dict] = []
        original = model.generate

        def generate(*args, **kwargs):
            output = original(*args, **kwargs)
            self.calls.append(
                {
                    "input_shape": tuple(kwargs["input_ids"].shape),
                    "attention_mask": kwargs["attention_mask"].tolist(),
                    "new_tokens": output.shape[1] - kwargs["input_ids"].shape[1],
                }
            )
            return output

        monkeypatch.setattr(model, "generate", generate)


def test_invoke_returns_exactly_the_continuation_not_the_prompt(llm):
    pipe = llm.get_pipeline()
    for prompt in PROMPTS[:3]:
        full = pipe(prompt, **GREEDY)[0]["generated_text"]  # transformers echoes the prompt
        new = llm.invoke(prompt)
        assert new and full == prompt + new
        assert not new.startswith(prompt)


def test_batch_matches_invoke_and_uses_left_padded_tensor_batches(llm, monkeypatch):
    one_by_one = [llm.invoke(p) for p in PROMPTS]
    spy = GenerateSpy(llm.get_pipeline().model, monkeypatch)
    assert llm.batch(PROMPTS, batch_size=2) == one_by_one
    assert [call["input_shape"][0] for call in spy.calls] == [2, 2, 1]  # 3 generate calls, not 5
    second = spy.calls[0]["attention_mask"][1]  # "Hi" padded to "Hello world"'s length
    assert second[0] == 0 and second[-1] == 1  # padding on the left


def test_batch_size_field_sets_the_chunking(causal_path, monkeypatch):
    llm = load_llm(causal_path, max_new_tokens=4, batch_size=3)
    spy = GenerateSpy(llm.get_pipeline().model, monkeypatch)
    assert len(llm.batch(PROMPTS)) == len(PROMPTS)
    assert [call["input_shape"][0] for call in spy.calls] == [3, 2]


def test_stream_yields_token_pieces_that_add_up_to_invoke(llm):
    pieces = list(llm.stream(PROMPTS[0]))
    assert len(pieces) > 5  # one piece per token (bytes of a split character wait for the rest)
    assert "".join(pieces) == llm.invoke(PROMPTS[0])


@pytest.mark.parametrize("stop_length", [1, 3, 6])
def test_stop_sequences_cut_invoke_batch_and_stream_alike(llm, stop_length):
    prompt = PROMPTS[0]
    full = llm.invoke(prompt)
    stop = full[8 : 8 + stop_length]
    expected = full[: full.find(stop)]
    assert len(expected) < len(full)
    assert llm.invoke(prompt, stop=[stop]) == expected
    assert "".join(llm.stream(prompt, stop=[stop])) == expected
    assert llm.batch([prompt, PROMPTS[2]], stop=[stop])[0] == expected
    assert all(stop not in text for text in llm.batch(PROMPTS, stop=[stop]))


def test_stop_ends_generation_early_in_invoke_and_stream(causal_path, monkeypatch):
    llm = load_llm(causal_path, **{**GREEDY, "max_new_tokens": 48})
    full = llm.invoke(PROMPTS[0])
    stop = full[4:7]
    spy = GenerateSpy(llm.get_pipeline().model, monkeypatch)
    llm.invoke(PROMPTS[0], stop=[stop])
    assert spy.calls[-1]["new_tokens"] < 48 // 2
    pieces = list(llm.stream(PROMPTS[0], stop=[stop]))
    assert spy.calls[-1]["new_tokens"] < 48 // 2  # generation stopped, not just the text hidden
    assert stop not in "".join(pieces)


def test_default_stop_from_load_llm_applies_with_call_stops(causal_path):
    plain = load_llm(causal_path, **GREEDY)
    full = plain.invoke(PROMPTS[0])
    early, late = full[3:5], full[12:14]
    with_default = load_llm(causal_path, stop=[late], **GREEDY)
    assert with_default.invoke(PROMPTS[0]) == full[: full.find(late)]
    assert with_default.invoke(PROMPTS[0], stop=[early]) == full[: full.find(early)]
    assert load_llm(causal_path, stop=late, **GREEDY).stop == [late]  # one string is one stop


def test_stop_straddling_the_prompt_end_does_not_stop_at_once(llm):
    prompt = PROMPTS[3]
    full = llm.invoke(prompt)
    stop = prompt[-1] + full[0]  # the prompt's last character + the first new one
    if stop in full:
        pytest.skip("the random model happens to produce the stop later on")
    assert llm.invoke(prompt, stop=[stop]) == full


def test_a_stop_right_away_gives_empty_text_everywhere(llm):
    full = llm.invoke(PROMPTS[0])
    assert llm.invoke(PROMPTS[0], stop=[full[0]]) == ""
    assert "".join(llm.stream(PROMPTS[0], stop=[full[0]])) == ""


def test_seed_makes_sampling_reproducible_and_leaves_global_rng_alone(causal_path):
    llm = load_llm(causal_path, max_new_tokens=20, do_sample=True, temperature=1.0)
    state = torch.get_rng_state()
    first = llm.invoke("Once upon a time", seed=7)
    assert torch.equal(state, torch.get_rng_state())
    assert llm.invoke("Once upon a time", seed=7) == first
    assert "".join(llm.stream("Once upon a time", seed=7)) == first
    assert llm.invoke("Once upon a time", seed=8) != first
    seeded = load_llm(causal_path, max_new_tokens=20, temperature=1.0, seed=7)  # temperature turns sampling on
    assert seeded.invoke("Once upon a time") == first


def test_generation_settings_reach_generate(causal_path):
    llm = load_llm(causal_path, max_new_tokens=5)
    tokenizer = llm.tokenizer
    assert len(tokenizer(llm.invoke("Hello"))["input_ids"]) <= 5
    assert len(tokenizer(llm.invoke("Hello", max_new_tokens=2))["input_ids"]) <= 2
    greedy = load_llm(causal_path, **GREEDY)
    assert load_llm(causal_path, **{**GREEDY, "do_sample": None}, temperature=0).invoke("Hi") == greedy.invoke("Hi")
    assert load_llm(causal_path, max_new_tokens=24).invoke("Hi") != greedy.invoke("Hi")  # the penalty changes text
    assert greedy.invoke("Hi", temperature=1.0, seed=1) != greedy.invoke("Hi")  # a call's temperature samples
    sampling = load_llm(causal_path, **{**GREEDY, "do_sample": True})
    assert sampling.invoke("Hi", temperature=0) == greedy.invoke("Hi")  # ... and 0 means greedy


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"temperature": -1}, "temperature must be"),
        ({"top_p": 0}, "top_p must be"),
        ({"max_new_tokens": 0}, "max_new_tokens must be"),
        ({"seed": "abc"}, "seed must be"),
        ({"batch_size": 0}, "batch_size"),
        ({"temprature": 0.5}, "unknown setting"),
        ({"temperature": 0, "do_sample": True}, "greedy"),
        ({"stop": 3}, "stop"),
    ],
)
def test_bad_settings_are_refused_with_what_is_allowed(settings, words):
    with pytest.raises(InvalidInputError, match=words):
        load_llm("unused", **settings)


def test_bad_call_arguments_are_refused(llm):
    with pytest.raises(InvalidInputError, match="max_new_tokens must be"):
        llm.invoke("Hi", max_new_tokens=-3)
    with pytest.raises(InvalidInputError, match="unknown argument"):
        llm.invoke("Hi", max_tokens_new=3)
    with pytest.raises(InvalidInputError, match="prompt is empty"):
        llm.invoke("")
    with pytest.raises(InvalidInputError, match="context of 1024 tokens"):
        llm.invoke("a" * 1100)
    with pytest.raises(InvalidInputError, match="unknown role"):
        load_llm(role="painter")


def test_construction_loads_nothing_and_a_missing_model_fails_at_first_call(causal_path, monkeypatch):
    runtime = runtime_module.ModelRuntime()
    monkeypatch.setattr(runtime_module, "_RUNTIME", runtime)
    llm = load_llm(causal_path, max_new_tokens=3)
    LocalLLM(role="few_shot", model=causal_path)
    assert runtime.loaded() == []
    llm.invoke("Hi")
    LocalLLM(role="few_shot", model=causal_path, max_new_tokens=3).invoke("Hi")  # another role, same model
    key = runtime.key_for("text", causal_path)
    assert runtime.load_counts[key] == 1 and len(runtime.loaded()) == 1
    missing = load_llm("/no/such/model/folder")
    with pytest.raises(ModelUnavailableError, match="no such folder"):
        missing.invoke("Hi")


def test_role_and_environment_pick_the_model(tiny_env):
    llm = load_llm(max_new_tokens=3)
    assert llm.role == "text" and llm.model_id is None
    assert llm.get_pipeline().model.name_or_path == str(tiny_env.causal)


def test_prebuilt_pipeline_with_right_padding_and_no_pad_token(causal_path):
    from transformers import pipeline

    pipe = pipeline("text-generation", model=causal_path)
    pipe.tokenizer.pad_token = None
    llm = LocalLLM(pipeline=pipe, **GREEDY)
    assert llm.model_id == causal_path
    reference = load_llm(causal_path, **GREEDY)
    assert llm.batch(PROMPTS) == [reference.invoke(p) for p in PROMPTS]


def test_encoder_decoder_model_returns_its_output(tiny_models):
    llm = LocalLLM(role="summary", model=str(tiny_models.t5), max_new_tokens=8)
    text = llm.invoke("summarize: the cat is a story")
    assert "summarize" not in text
    assert "".join(llm.stream("summarize: the cat is a story")) == text
    assert llm.batch(["summarize: the cat is a story", "summarize: music"])[0] == text


def test_stream_reports_each_piece_to_callbacks(llm):
    from langchain_core.callbacks import BaseCallbackHandler

    class Collect(BaseCallbackHandler):
        def __init__(self):
            self.tokens: list[str] = []

        def on_llm_new_token(self, token, **kwargs):
            self.tokens.append(token)

    handler = Collect()
    pieces = list(llm.stream(PROMPTS[0], config={"callbacks": [handler]}))
    assert handler.tokens == pieces
