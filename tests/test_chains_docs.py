"""docs/chains.md shows every chain (tests/test_docs.py runs its examples, as every page's)."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "chains.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)


def test_the_doc_has_an_example_per_chain() -> None:
    text = "\n".join(BLOCKS)
    for name in (
        "story_then_moderate",
        "make_write_story_tool",
        "illustrated_story",
        "story_soundtrack",
        "summarize_document",
        "few_shot_sentiment",
    ):
        assert f"import {name}" in text or f", {name}" in text, name
