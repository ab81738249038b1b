"""The README's examples that need no model weights run as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_the_fake_model_chain_examples_run(capsys):
    blocks = [b for b in python_blocks() if "FakeListLLM" in b]
    assert blocks, "the README lost its runnable chain example"
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("True 2 Kid-friendly")
    assert out[1] == "negative"


def test_the_readme_names_the_two_commands():
    text = README.read_text(encoding="utf-8")
    assert "make demo" in text and "make test" in text
