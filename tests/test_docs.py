"""Every Python example in README.md and docs/*.md runs as written.

A page's blocks run in order in one namespace, as a reader pastes them into one Python
session (docs/models.md's structured-output block uses the ``chat`` of the block before it),
in a fresh GENLAB_HOME and working folder, with every role pointed at its tiny model through
the settings (``tiny_env``). The test creates the files the examples read (``notes.txt``).

Two kinds of change are made, both visible here:
- a block preceded in the Markdown by ``<!-- not run: REASON -->`` is skipped; the reason is
  shown to the reader of the page too;
- SHRINK lists text replacements that make a picture or a clip small (a 512x512, 25-step
  picture takes 7 minutes even on the tiny Stable Diffusion on a 2-core machine); each one
  must still be found in the page, so the test fails when the example changes.

A comment after ``print(...)`` (on its line, or the comment lines below it) is the expected
output, unless it elides with ``...``.
"""

from __future__ import annotations

import contextlib
import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(?:<!--\s*not run:\s*(?P<reason>.*?)\s*-->\s*\n)?```python\n(?P<code>.*?)```", re.S)

NOTES = (
    "Generative adversarial networks pit a generator against a discriminator.\n\n"
    "Diffusion models add noise to images and learn to remove it, step by step.\n"
)

#: page name -> (text in the page, what the test runs instead)
SHRINK: dict[str, list[tuple[str, str]]] = {
    "README.md": [
        ('"seed": 42, "steps": 25}', '"seed": 42, "steps": 2, "width": 64, "height": 64}'),
    ],
    "tools.md": [
        ('"seed": 42})', '"seed": 42, "steps": 2, "width": 64, "height": 64})'),
        ("width=768, height=512, seed=7, num_images=2,", "width=64, height=64, steps=2, seed=7, num_images=2,"),
    ],
    "chains.md": [
        ("width=256, height=256, steps=20", "width=64, height=64, steps=2"),
    ],
}


def page_blocks(page: Path) -> list[tuple[str | None, str]]:
    """The page's Python blocks as (reason not run or None, code)."""
    text = page.read_text(encoding="utf-8")
    return [(m.group("reason"), m.group("code")) for m in BLOCK.finditer(text)]


def expected_output(code: str) -> list[str]:
    """Comments after a print (on its line or the comment lines below), except those eliding with '...'."""
    comments = {
        token.start[0]: token.string[1:].strip()
        for token in tokenize.generate_tokens(io.StringIO(code).readline)
        if token.type == tokenize.COMMENT
    }
    expected: list[str] = []
    after_print = False
    for number, line in enumerate(code.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("print("):
            after_print = True
            comment = comments.get(number)
        elif after_print and stripped.startswith("#"):
            comment = comments.get(number)
        else:
            after_print = after_print and bool(stripped) and line.startswith(" ")  # a print's continuation
            continue
        if comment and "..." not in comment:
            expected.append(comment)
    return expected


def test_every_page_with_python_has_blocks_and_few_are_skipped() -> None:
    blocks = [b for page in PAGES for b in page_blocks(page)]
    skipped = [reason for reason, _ in blocks if reason is not None]
    assert len(blocks) >= 20
    assert len(skipped) <= 3, skipped
    assert all(len(reason) > 15 for reason in skipped)  # a reason, not a bare marker


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_examples_run(page: Path, tiny_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from genlab.settings import get_settings

    blocks = page_blocks(page)
    if not blocks:
        pytest.skip(f"{page.name} has no Python example")
    home = tmp_path / "home"
    monkeypatch.setenv("GENLAB_HOME", str(home))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    get_settings.cache_clear()
    (work / "notes.txt").write_text(NOTES, encoding="utf-8")
    namespace: dict = {"__name__": "__doc_example__"}
    shrink = SHRINK.get(page.name, [])
    applied = set()
    for number, (reason, code) in enumerate(blocks, 1):
        if reason is not None:
            continue
        for old, new in shrink:
            if old in code:
                code = code.replace(old, new)
                applied.add(old)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                exec(compile(code, f"{page.name} block {number}", "exec"), namespace)
            except Exception as exc:
                raise AssertionError(f"{page.name}, Python block {number} fails: {type(exc).__name__}: {exc}\n{code}") from exc
        for line in expected_output(code):
            assert line in out.getvalue(), f"{page.name} block {number}: {line!r} not in the output:\n{out.getvalue()}"
    assert applied == {old for old, _ in shrink}, f"{page.name} no longer has {set(o for o, _ in shrink) - applied}"
    if page.name == "chains.md":  # the illustrated story and the soundtrack wrote their files
        assert sorted(p.suffix for p in (work / "outputs").iterdir()) == [".png", ".wav"]


@pytest.mark.slow
def test_readme_ask_sample_is_what_the_command_prints() -> None:
    """README's `genlab ask` block equals the command's output (scripts/refresh_readme.py --check)."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "refresh_readme.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
