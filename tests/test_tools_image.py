"""generate_image on the tiny Stable Diffusion pipeline, loaded through the runtime."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from PIL import Image

from genlab.tools import generate_image, generate_images

SMALL = {"width": 64, "height": 64, "steps": 2}
NAME = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}-[a-z0-9-]{1,40}\.png$")


@pytest.fixture
def out_dir(tiny_env, tmp_path, monkeypatch) -> Path:
    from genlab.settings import get_settings

    folder = tmp_path / "outputs"
    monkeypatch.setenv("GENLAB_OUTPUT_DIR", str(folder))
    get_settings.cache_clear()
    return folder


def test_tool_draws_a_png_with_its_recipe_in_the_metadata(out_dir, tiny_env) -> None:
    result = generate_image.invoke({"prompt": "a red fox in the snow", **SMALL, "seed": 7})
    assert set(result) == {"images", "model", "prompt", "negative_prompt", "guidance_scale"}
    assert result["model"] == str(tiny_env.image)
    assert result["prompt"] == "a red fox in the snow"
    [image] = result["images"]
    assert set(image) == {"path", "width", "height", "seed", "steps"}
    assert (image["width"], image["height"], image["seed"], image["steps"]) == (64, 64, 7, 2)
    path = Path(image["path"])
    assert path.parent == out_dir.resolve()
    assert NAME.match(path.name) and "a-red-fox-in-the-snow" in path.name
    with Image.open(path) as png:
        assert png.format == "PNG" and png.size == (64, 64)
        meta = dict(png.text)
    assert meta["prompt"] == "a red fox in the snow"
    assert meta["seed"] == "7" and meta["steps"] == "2"
    assert meta["model"] == str(tiny_env.image)


def test_same_seed_gives_the_same_image_and_another_seed_does_not(out_dir) -> None:
    first = generate_images("a lighthouse", **SMALL, seed=123)
    again = generate_images("a lighthouse", **SMALL, seed=123)
    other = generate_images("a lighthouse", **SMALL, seed=124)
    read = lambda r: r.images[0].path.read_bytes()  # noqa: E731
    assert read(first) == read(again)
    assert first.images[0].path != again.images[0].path  # a new file each time
    with Image.open(first.images[0].path) as a, Image.open(other.images[0].path) as b:
        assert a.tobytes() != b.tobytes()


def test_each_image_of_a_batch_can_be_redrawn_from_its_seed(out_dir) -> None:
    batch = generate_images("two cats", **SMALL, seed=40, num_images=2)
    assert [i.seed for i in batch.images] == [40, 41]
    alone = generate_images("two cats", **SMALL, seed=41)
    assert batch.images[1].path.read_bytes() == alone.images[0].path.read_bytes()


def test_random_seed_is_reported_and_reproduces(out_dir) -> None:
    first = generate_images("a boat", **SMALL)
    seed = first.images[0].seed
    assert 0 <= seed < 2**32
    assert generate_images("a boat", **SMALL, seed=seed).images[0].path.read_bytes() == first.images[0].path.read_bytes()


@pytest.mark.parametrize(
    "prompt",
    ["../../escape attempt", "/etc/passwd", "..\\..\\windows", "a very long prompt " * 40, "猫が走る 🎵 ünïcödé"],
)
def test_prompts_cannot_place_files_outside_the_folder(out_dir, prompt: str) -> None:
    result = generate_images(prompt, **SMALL, seed=1)
    path = result.images[0].path
    assert path.parent == out_dir.resolve()
    assert NAME.match(path.name), path.name
    assert sorted(p.name for p in out_dir.iterdir()) == [path.name]
    with Image.open(path) as png:
        assert png.text["prompt"] == prompt  # the full prompt is kept, in the metadata


def test_progress_counts_every_step_of_every_image(out_dir) -> None:
    seen: list[tuple[int, int]] = []
    generate_images("a tree", **SMALL, seed=3, num_images=2, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_ctrl_c_during_generation_leaves_no_file(out_dir) -> None:
    def interrupt(done: int, total: int) -> None:
        if done == 3:  # the second image, mid-way: the first one is already drawn
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate_images("interrupted", **SMALL, seed=5, num_images=2, progress=interrupt)
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


def test_ctrl_c_while_saving_leaves_no_file(out_dir, monkeypatch) -> None:
    calls = {"n": 0}
    original = Image.Image.save

    def save(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", save)
    with pytest.raises(KeyboardInterrupt):
        generate_images("saving", **SMALL, seed=5, num_images=2)
    assert list(out_dir.iterdir()) == []


def test_tool_and_out_dir_override(tiny_env, tmp_path) -> None:
    tool = type(generate_image)(out_dir=tmp_path / "custom", model=str(tiny_env.image))
    result = asyncio.run(tool.ainvoke({"prompt": "async fox", **SMALL, "seed": 9}))
    assert Path(result["images"][0]["path"]).parent == (tmp_path / "custom").resolve()


def test_the_pipeline_is_loaded_once_and_shared(out_dir, tiny_env) -> None:
    from genlab.models import get_model, get_runtime

    generate_images("first", **SMALL, seed=1)
    key = get_runtime().key_for("image")
    count = get_runtime().load_counts[key]
    generate_image.invoke({"prompt": "second", **SMALL, "seed": 2})
    assert get_model("image") is get_model("image", str(tiny_env.image))
    assert get_runtime().load_counts[key] == count
