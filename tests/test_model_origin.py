"""A model error names where the model id came from: the setting, `--model`, or `model=`.

The class of failure: advice to "set GENLAB_IMAGE_MODEL" after the user passed `--model` is
advice they cannot follow. Every way a model id is rejected (missing folder, a file, not a
model, wrong kind, not cached offline, not a valid id) is tried through each way in.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_runner import run_cli

from genlab.errors import ModelUnavailableError


def bad_ids(tmp_path: Path, tiny_models) -> dict[str, str]:
    (tmp_path / "file.txt").write_text("hello")
    (tmp_path / "empty").mkdir()
    return {
        "missing folder": str(tmp_path / "nowhere"),
        "a file": str(tmp_path / "file.txt"),
        "not a model": str(tmp_path / "empty"),
        "wrong kind": str(tiny_models.music),
        "not cached, offline": "someone/not-cached-model",
        "not a hub id": "a/b/c",
    }


CASES = ["missing folder", "a file", "not a model", "wrong kind", "not cached, offline", "not a hub id"]
COMMANDS = {
    "image": ["image", "a fox", "--width", "64", "--height", "64", "--steps", "1"],
    "summarize": ["summarize", "-"],
    "classify": ["classify", "some text", "--labels", "a,b"],
    "chat": ["chat"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("case", CASES)
def test_cli_model_flag_is_named(command, case, tiny_env, tmp_path, capsys, monkeypatch) -> None:
    import io

    model = bad_ids(tmp_path, tiny_env)[case]
    monkeypatch.setattr("sys.stdin", io.StringIO("A text long enough to summarize, twice over.\n"))
    code, _, err = run_cli([*COMMANDS[command], "--model", model], capsys)
    assert code == 2, err
    assert f"{model!r} passed with --model is not available" in err
    assert "GENLAB_" not in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("case", CASES)
def test_python_model_argument_is_named(case, tiny_env, tmp_path) -> None:
    from genlab.tools.image import generate_images

    model = bad_ids(tmp_path, tiny_env)[case]
    with pytest.raises(ModelUnavailableError) as info:
        generate_images("a fox", width=64, height=64, steps=1, model=model)
    message = str(info.value)
    assert "passed with model= is not available" in message and "pass model=" in message
    assert "GENLAB_IMAGE_MODEL" not in message


@pytest.mark.parametrize("case", CASES)
def test_a_setting_is_named_as_the_setting(case, tiny_env, tmp_path, capsys, monkeypatch) -> None:
    from genlab.settings import get_settings

    monkeypatch.setenv("GENLAB_IMAGE_MODEL", bad_ids(tmp_path, tiny_env)[case])
    get_settings.cache_clear()
    code, _, err = run_cli(COMMANDS["image"], capsys)
    assert code == 2, err
    assert "passed with" not in err
    assert "GENLAB_IMAGE_MODEL" in err
