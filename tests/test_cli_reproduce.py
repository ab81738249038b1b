"""A generator's --json holds everything needed to make the same file again."""

from __future__ import annotations

import json
from pathlib import Path

from cli_runner import run_cli


def _json(capsys, args: list[str]) -> dict:
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    return json.loads(out)


def test_music_json_reproduces_the_clip(tiny_env, tmp_path, capsys) -> None:
    first = _json(capsys, ["music", "calm piano", "--duration", "0.2", "--out", str(tmp_path), "--json"])
    assert {"seed", "prompt", "duration_s", "model", "sampling_rate", "path"} <= set(first)
    again = _json(
        capsys,
        [
            "music",
            first["prompt"],
            "--duration",
            str(first["duration_s"]),
            "--seed",
            str(first["seed"]),
            "--model",
            first["model"],
            "--out",
            str(tmp_path),
            "--json",
        ],
    )
    assert Path(again["path"]) != Path(first["path"])
    assert Path(again["path"]).read_bytes() == Path(first["path"]).read_bytes()


def test_image_json_reproduces_the_picture(tiny_env, tmp_path, capsys) -> None:
    first = _json(
        capsys,
        [
            "image",
            "a fox",
            "--negative-prompt",
            "blurry",
            "--width",
            "64",
            "--height",
            "72",
            "--steps",
            "2",
            "--guidance",
            "5",
            "--out",
            str(tmp_path),
            "--json",
        ],
    )
    image = first["images"][0]
    assert {"prompt", "negative_prompt", "guidance_scale", "model"} <= set(first)
    assert {"seed", "steps", "width", "height"} <= set(image)
    again = _json(
        capsys,
        [
            "image",
            first["prompt"],
            "--negative-prompt",
            first["negative_prompt"],
            "--width",
            str(image["width"]),
            "--height",
            str(image["height"]),
            "--steps",
            str(image["steps"]),
            "--guidance",
            str(first["guidance_scale"]),
            "--seed",
            str(image["seed"]),
            "--model",
            first["model"],
            "--out",
            str(tmp_path),
            "--json",
        ],
    )
    from PIL import Image

    with Image.open(first["images"][0]["path"]) as a, Image.open(again["images"][0]["path"]) as b:
        assert a.tobytes() == b.tobytes()
