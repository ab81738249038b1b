"""`--max-new-tokens`, `--temperature` and `--seed` on the commands that generate text."""

from __future__ import annotations

import json

import pytest
from cli_runner import run_cli


def _story(capsys, *flags: str) -> dict:
    code, out, err = run_cli(["story", "--max-rewrites", "0", "--json", *flags], capsys)
    assert code == 0, err
    return json.loads(out)


def test_story_max_new_tokens_caps_the_story(tiny_env, capsys) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_env.causal))
    short = _story(capsys, "--max-new-tokens", "3", "--temperature", "0")
    longer = _story(capsys, "--max-new-tokens", "12", "--temperature", "0")
    # The random tiny model never stops by itself: the cap is what ends the story.
    assert len(tokenizer(short["story"], add_special_tokens=False)["input_ids"]) <= 3
    assert len(longer["story"]) > len(short["story"])


def test_story_seed_repeats_a_sampled_story(tiny_env, capsys) -> None:
    first = _story(capsys, "--max-new-tokens", "16", "--temperature", "1.5", "--seed", "7")
    again = _story(capsys, "--max-new-tokens", "16", "--temperature", "1.5", "--seed", "7")
    other = _story(capsys, "--max-new-tokens", "16", "--temperature", "1.5", "--seed", "8")
    assert first["story"] == again["story"]
    assert first["story"] != other["story"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["story", "--max-new-tokens", "0"], "max_new_tokens must be an integer >= 1, got 0"),
        (["story", "--temperature", "-1"], "temperature must be a number >= 0"),
        (["chat", "--temperature", "-0.5"], "temperature must be a number >= 0"),
        (["chat", "--seed", "-3"], "seed must be an integer >= 0"),
        (["ask", "What is a GAN?", "--llm", "--max-new-tokens", "0"], "max_new_tokens must be an integer >= 1"),
        (["ask", "What is a GAN?", "--temperature", "0.5"], "--temperature applies only to answers written by a model"),
    ],
)
def test_bad_generation_flags_exit_2_before_any_model(args, expected, capsys) -> None:
    # No tiny_env: the configured models are not on this machine, so reaching a model would
    # fail differently. The flags are refused first.
    code, out, err = run_cli(args, capsys)
    assert code == 2, err
    assert expected in err and err.count("\n") == 1


def test_chat_flags_reach_the_chat_model(tiny_env, capsys, monkeypatch) -> None:
    import io

    import genlab.agents.session as session

    built: list = []
    real = session.resolve_chat_model

    def recording(*args, **kwargs):
        built.append(real(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(session, "resolve_chat_model", recording)  # where open_chat looks it up
    monkeypatch.setattr("sys.stdin", io.StringIO("/exit\n"))
    code, _, err = run_cli(["chat", "--max-new-tokens", "5", "--temperature", "0", "--seed", "3"], capsys)
    assert code == 0, err
    llm = built[0].llm  # the local chat model genlab chat talks to
    assert (llm.max_new_tokens, llm.temperature, llm.seed) == (5, 0.0, 3)


@pytest.mark.slow  # answers from the course index, built on first use
def test_ask_llm_passes_the_flags_to_the_chat_model(tiny_env, capsys, monkeypatch) -> None:
    import genlab.models as models

    seen: dict = {}
    real = models.load_chat_model

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(models, "load_chat_model", spy)
    code, out, err = run_cli(["ask", "What is a GAN?", "--llm", "--max-new-tokens", "4", "--seed", "2", "--json"], capsys)
    assert code == 0, err
    assert seen == {"max_new_tokens": 4, "seed": 2}
    assert json.loads(out)["answer"] is not None
