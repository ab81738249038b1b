"""The Python examples in docs/chains.md run as written and print what their comments say."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "chains.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)


def expected_output(code: str) -> list[str]:
    """Comments after a print (on its line or the lines below), except those eliding with '...'."""
    expected: list[str] = []
    after_print = False
    for line in code.splitlines():
        stripped = line.strip()
        if stripped.startswith("print(") and "#" in line:
            comment = line.split("#", 1)[1].strip()
            after_print = True
        elif stripped.startswith("#") and after_print:
            comment = stripped[1:].strip()
        else:
            after_print = stripped.startswith("print(") or (after_print and not stripped.startswith("#") and line.startswith(" "))
            continue
        if comment and "..." not in comment:
            expected.append(comment)
    return expected


def test_the_doc_has_an_example_per_chain() -> None:
    text = "\n".join(BLOCKS)
    for name in ("story_then_moderate", "make_write_story_tool", "illustrated_story", "story_soundtrack",
                 "summarize_document", "few_shot_sentiment"):
        assert f"import {name}" in text or f", {name}" in text, name


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_doc_example_runs(code: str, tiny_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # examples write to ./outputs
    # The same code, with the picture and the clip made tiny: a 256-pixel, 20-step picture and
    # 5 seconds of music take half a minute even on the tiny models.
    code = code.replace("width=256, height=256, steps=20", "width=64, height=64, steps=2").replace("duration_s=5", "duration_s=0.2")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(DOC), "exec"), {"__name__": "__doc_example__"})
    printed = out.getvalue()
    for line in expected_output(code):
        assert line in printed, f"{line!r} not in output:\n{printed}"
    if "illustrated_story" in code:
        assert "steps=2" in code and "duration_s=0.2" in code  # the doc still says what the test shrinks
        assert sorted(p.suffix for p in (tmp_path / "outputs").iterdir()) == [".png", ".wav"]
