"""`genlab story`: on the tiny random models, whose answers are never a readable "yes"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_runner import run_cli


def test_story_json(tiny_env, capsys) -> None:
    code, stdout, stderr = run_cli(["story", "--setting", "a small village", "--max-rewrites", "0", "--json"], capsys)
    assert code == 0, stderr
    data = json.loads(stdout)
    assert set(data) == {"story", "kid_friendly", "verdict", "attempts"}
    # A random model's answer is not a verdict: the story is not approved (fail closed).
    assert data["kid_friendly"] is False
    assert data["verdict"].startswith("Not kid-friendly. Moderator LLM: unreadable verdict")
    assert len(data["attempts"]) == 1 and data["attempts"][0]["story"] == data["story"]


def test_story_text_and_media_of_a_rejected_story(tiny_env, tmp_path: Path, capsys) -> None:
    # (No rewrite here: the tiny model's 256 random bytes, quoted back in a rewrite prompt,
    # exceed its 1024-token context. Rewrites are tested with fake LLMs.)
    out = tmp_path / "files"
    code, stdout, stderr = run_cli(
        [
            "story",
            "--character",
            "young girl",
            "--max-rewrites",
            "0",
            "--illustrate",
            "--soundtrack",
            "--width",
            "64",
            "--height",
            "64",
            "--steps",
            "1",
            "--duration",
            "0.1",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert any(line.startswith("Verdict: Not kid-friendly. Moderator LLM: unreadable verdict") for line in lines)
    assert "Image: none, the story was not approved" in lines
    assert "Music: none, the story was not approved" in lines
    assert not out.exists() or list(out.iterdir()) == []  # nothing drawn for a rejected story


def test_story_model_option(tiny_models, capsys) -> None:
    # No GENLAB_TEXT_MODEL here: --model alone picks the story and moderator model.
    code, stdout, stderr = run_cli(["story", "--max-rewrites", "0", "--model", str(tiny_models.causal), "--json"], capsys)
    assert code == 0, stderr
    assert json.loads(stdout)["kid_friendly"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-rewrites", "11"], "max_rewrites must be a whole number from 0 to 10"),
        (["--setting", "   "], "setting: must not be blank"),
        (["--character", "x" * 301], "character"),
        (["--illustrate", "--steps", "0"], "steps"),
        (["--soundtrack", "--duration", "100"], "duration_s"),
        (["--illustrate", "--width", "65"], "width"),
    ],
)
def test_story_bad_input_exits_2_with_one_line(args: list[str], message: str, capsys) -> None:
    # No models configured: bad input is refused before any model is needed.
    code, stdout, stderr = run_cli(["story", *args], capsys)
    assert code == 2
    assert stdout == ""
    assert stderr.startswith("genlab: error: ") and message in stderr
    assert len(stderr.strip().splitlines()) == 1


def test_story_help_shows_the_course_defaults(capsys) -> None:
    code, stdout, _ = run_cli(["story", "--help"], capsys)
    assert code == 0
    flat = " ".join(stdout.split())
    for default in ("enchanted forest", "brave adventurer", "glowing crystal", "--max-rewrites", "--illustrate", "--soundtrack"):
        assert default in flat
