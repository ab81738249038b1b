"""Safe file names and all-or-nothing writes (genlab.tools.files)."""

from __future__ import annotations

import re

import pytest

from genlab.errors import InvalidInputError
from genlab.tools.files import SLUG_MAX_CHARS, ensure_output_dir, file_name, output_batch, slugify

NAME = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}-[a-z0-9-]{1,40}\.png$")


@pytest.mark.parametrize(
    ("prompt", "slug"),
    [
        ("A red fox at dawn", "a-red-fox-at-dawn"),
        ("../../etc/passwd", "etc-passwd"),
        ("/", "untitled"),
        ("..", "untitled"),
        ("C:\\Windows\\system32", "c-windows-system32"),
        ("Café crème brûlée", "cafe-creme-brulee"),
        ("猫が走る 🎵", "untitled"),
        ("  --hello--world--  ", "hello-world"),
        ("a\x00b\nc", "a-b-c"),
    ],
)
def test_slugify_keeps_only_safe_characters(prompt: str, slug: str) -> None:
    assert slugify(prompt) == slug


def test_slugify_caps_length_without_trailing_dash() -> None:
    slug = slugify("word " * 100)
    assert len(slug) <= SLUG_MAX_CHARS
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug)


@pytest.mark.parametrize("prompt", ["../../../escape", "/abs/path", "x" * 5000, "名前/../..", "..\\..\\win", "~/.ssh/id"])
def test_file_names_never_carry_path_parts(prompt: str) -> None:
    name = file_name(prompt, ".png")
    assert NAME.match(name), name
    assert "/" not in name and "\\" not in name and ".." not in name


def test_file_name_refuses_an_odd_suffix() -> None:
    with pytest.raises(ValueError):
        file_name("x", "/../.png")


def test_batch_commits_every_file_at_the_end(tmp_path) -> None:
    folder = tmp_path / "new" / "out"
    with output_batch(folder) as batch:
        first = batch.reserve("one", ".txt")
        first.write_bytes(b"1")
        second = batch.reserve("two", ".txt")
        second.write_bytes(b"2")
        assert not first.path.exists(), "a file must not appear before the batch is complete"
    assert first.path.read_bytes() == b"1" and second.path.read_bytes() == b"2"
    assert sorted(p.name for p in folder.iterdir()) == sorted([first.path.name, second.path.name])


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_failure_leaves_no_file_at_all(tmp_path, error: BaseException) -> None:
    with pytest.raises(type(error)):
        with output_batch(tmp_path) as batch:
            batch.reserve("kept?", ".txt").write_bytes(b"complete")
            pending = batch.reserve("half", ".txt")
            with pending.open() as handle:
                handle.write(b"half writ")
                raise error
    assert list(tmp_path.iterdir()) == []  # hidden temporary files included


def test_output_dir_that_is_a_file_is_refused(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InvalidInputError, match="not a folder"):
        ensure_output_dir(blocker)


def test_output_dir_defaults_to_settings(tmp_path, monkeypatch) -> None:
    from genlab.settings import get_settings

    monkeypatch.setenv("GENLAB_OUTPUT_DIR", str(tmp_path / "configured"))
    get_settings.cache_clear()
    assert ensure_output_dir() == (tmp_path / "configured").resolve()
    assert (tmp_path / "configured").is_dir()
