"""`genlab image | music | summarize | classify`: JSON shapes, output folder, exit code 2 on bad input."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import pytest
from cli_runner import run_cli
from PIL import Image

SMALL_IMAGE = ["--width", "64", "--height", "64", "--steps", "2"]


def test_image_json_and_out_folder(tiny_env, tmp_path, capsys) -> None:
    out = tmp_path / "pics"
    code, stdout, stderr = run_cli(
        ["image", "a red fox", *SMALL_IMAGE, "--seed", "5", "--num-images", "2", "--out", str(out), "--json"], capsys
    )
    assert code == 0, stderr
    data = json.loads(stdout)
    assert set(data) == {"images", "model", "prompt", "negative_prompt", "guidance_scale"}
    assert data["model"] == str(tiny_env.image)
    assert [set(i) for i in data["images"]] == [{"path", "width", "height", "seed", "steps"}] * 2
    assert [i["seed"] for i in data["images"]] == [5, 6]
    for item in data["images"]:
        path = Path(item["path"])
        assert path.parent == out.resolve()
        with Image.open(path) as png:
            assert png.size == (64, 64) and png.text["seed"] == str(item["seed"])
    assert "drawing" not in stderr  # no progress bar when not on a terminal or with --json


def test_image_text_output_lists_the_files(tiny_env, tmp_path, capsys) -> None:
    code, stdout, _ = run_cli(["image", "a boat", *SMALL_IMAGE, "--seed", "1", "--out", str(tmp_path)], capsys)
    assert code == 0
    [line] = stdout.splitlines()
    assert line.startswith(str(tmp_path.resolve())) and "seed 1" in line


def test_image_model_option_overrides_the_setting(tiny_models, tmp_path, capsys) -> None:
    # No GENLAB_IMAGE_MODEL here: --model alone picks the model.
    code, stdout, stderr = run_cli(
        ["image", "a hill", *SMALL_IMAGE, "--model", str(tiny_models.image), "--out", str(tmp_path), "--json"], capsys
    )
    assert code == 0, stderr
    assert json.loads(stdout)["model"] == str(tiny_models.image)


def test_progress_bar_on_a_terminal(tiny_env, tmp_path, capsys, monkeypatch) -> None:
    import genlab.cli.media as cli

    updates: list[tuple[int, int]] = []
    original = cli._ToolsProgress._update
    monkeypatch.setattr(cli, "show_progress", lambda json_output: not json_output)
    monkeypatch.setattr(cli._ToolsProgress, "_update", lambda self, d, t: (updates.append((d, t)), original(self, d, t)))
    code, stdout, stderr = run_cli(["image", "a tree", *SMALL_IMAGE, "--seed", "2", "--out", str(tmp_path)], capsys)
    assert code == 0, stderr
    assert updates == [(1, 2), (2, 2)]
    assert "seed 2" in stdout
    updates.clear()
    code, _, _ = run_cli(["image", "a tree", *SMALL_IMAGE, "--seed", "2", "--out", str(tmp_path), "--json"], capsys)
    assert code == 0 and updates == []


def test_music_json(tiny_env, tmp_path, capsys) -> None:
    code, stdout, stderr = run_cli(
        ["music", "calm piano", "--duration", "0.2", "--seed", "3", "--out", str(tmp_path), "--json"], capsys
    )
    assert code == 0, stderr
    data = json.loads(stdout)
    assert set(data) == {"path", "sampling_rate", "duration_s", "model", "prompt", "seed"}
    with wave.open(data["path"], "rb") as wav:
        assert wav.getframerate() == data["sampling_rate"]
        assert wav.getnframes() / wav.getframerate() == pytest.approx(data["duration_s"], abs=1e-3)
    assert data["duration_s"] == pytest.approx(0.2, abs=0.02)


def test_summarize_file_and_stdin(tiny_env, tmp_path, capsys, monkeypatch) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("the cat is a story of the model and the image.", encoding="utf-8")
    code, stdout, stderr = run_cli(["summarize", str(notes), "--max-words", "5", "--json"], capsys)
    assert code == 0, stderr
    data = json.loads(stdout)
    assert set(data) == {"summary"} and len(data["summary"].split()) <= 5

    monkeypatch.setattr(sys, "stdin", io.StringIO("the model is a cat."))
    code, stdout, _ = run_cli(["summarize", "-", "--max-words", "5", "--json"], capsys)
    assert code == 0 and set(json.loads(stdout)) == {"summary"}


def test_classify_json(tiny_env, capsys) -> None:
    code, stdout, stderr = run_cli(["classify", "The match ended 2-1.", "--labels", "sports, politics,cooking", "--json"], capsys)
    assert code == 0, stderr
    data = json.loads(stdout)
    assert set(data) == {"labels", "scores"}
    assert sorted(data["labels"]) == ["cooking", "politics", "sports"]
    assert data["scores"] == sorted(data["scores"], reverse=True)


def test_classify_text_output(tiny_env, capsys) -> None:
    code, stdout, _ = run_cli(["classify", "I loved it", "--labels", "positive,negative", "--multi-label"], capsys)
    assert code == 0
    lines = stdout.splitlines()
    assert len(lines) == 2 and {line.split()[0] for line in lines} == {"positive", "negative"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["image", "   "], "prompt: is only whitespace"),
        (["image", "fox", "--width", "100"], "multiple of 8"),
        (["image", "fox", "--height", "4096"], "64 to 2048"),
        (["image", "fox", "--steps", "0"], "1 to 200"),
        (["image", "fox", "--num-images", "9"], "from 1 to 8"),
        (["music", "piano", "--duration", "0"], "more than 0, at most 60"),
        (["music", "piano", "--duration", "61"], "at most 60"),
        (["music", ""], "prompt: is empty"),
        (["classify", "text", "--labels", "a,a"], "appears more than once"),
        (["classify", "text", "--labels", "a,,b"], "must not be empty"),
        (["classify", "  ", "--labels", "a,b"], "text: is only whitespace"),
        (["summarize", "/no/such/file.txt"], "no such file"),
        (["summarize", "notes.txt", "--max-words", "2"], "5 to 1000"),
        (["image", "fox", "--width", "wide"], "Invalid value for '--width'"),
    ],
)
def test_bad_input_exits_2_with_one_line(tiny_env, tmp_path, capsys, monkeypatch, args: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("the model is a cat.", encoding="utf-8")
    from genlab.models import get_runtime

    loads = sum(get_runtime().load_counts.values())
    code, stdout, stderr = run_cli([*args, "--out", str(tmp_path / "o")] if args[0] in {"image", "music"} else args, capsys)
    assert code == 2
    assert stdout == ""
    assert stderr.startswith("genlab: error: ") and stderr.count("\n") == 1, stderr
    assert message in stderr
    assert "Traceback" not in stderr
    assert sum(get_runtime().load_counts.values()) == loads
    assert not (tmp_path / "o").exists() or list((tmp_path / "o").iterdir()) == []


def test_text_over_the_size_limit_exits_2(tiny_env, tmp_path, capsys, monkeypatch) -> None:
    from genlab.settings import get_settings

    monkeypatch.setenv("GENLAB_MAX_INPUT_CHARS", "50")
    get_settings.cache_clear()
    big = tmp_path / "big.txt"
    big.write_text("the cat " * 1000, encoding="utf-8")
    code, _, stderr = run_cli(["summarize", str(big)], capsys)
    assert code == 2 and "the limit is 50" in stderr


def test_empty_file_and_stdin_exit_2(tiny_env, tmp_path, capsys, monkeypatch) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    code, _, stderr = run_cli(["summarize", str(empty)], capsys)
    assert code == 2 and "text: is only whitespace" in stderr
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, _, stderr = run_cli(["summarize", "-"], capsys)
    assert code == 2 and "stdin is empty" in stderr


def test_out_that_is_a_file_exits_2(tiny_env, tmp_path, capsys) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    code, _, stderr = run_cli(["music", "piano", "--duration", "0.1", "--out", str(blocker)], capsys)
    assert code == 2 and "not a folder" in stderr


def _subprocess_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENLAB_")}
    env.update(extra)
    return env


@pytest.mark.slow
def test_subprocess_music_json(tiny_env, tmp_path) -> None:
    env = _subprocess_env({**tiny_env.env(), "GENLAB_HOME": str(tmp_path / "home")})
    proc = subprocess.run(
        [sys.executable, "-m", "genlab.cli", "music", "drums", "--duration", "0.1", "--seed", "1", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert Path(data["path"]).parent == (tmp_path / "home" / "outputs").resolve()
    assert Path(data["path"]).is_file()


def test_subprocess_bad_input_exits_2_without_loading_torch(tmp_path) -> None:
    code = (
        "import sys\n"
        "from genlab.cli import main\n"
        "try:\n"
        "    main(['image', 'fox', '--width', '65'])\n"
        "except SystemExit as exc:\n"
        "    print('torch' in sys.modules, 'diffusers' in sys.modules, file=sys.stderr)\n"
        "    raise\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=_subprocess_env({"GENLAB_HOME": str(tmp_path)}),
    )
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("genlab: error: width:")
    assert lines[1] == "False False"  # refused before any heavy import


@pytest.mark.slow  # the fast tier checks the same import in tests/test_lazy_imports.py
def test_import_genlab_tools_stays_light() -> None:
    code = "import sys, genlab.tools; print(sorted(m for m in ('torch', 'transformers', 'diffusers') if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
