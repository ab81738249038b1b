"""`import genlab` and `genlab --help` stay light: no heavy library is imported."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "diffusers", "sentence_transformers", "chromadb", "faiss")


def imported_after(code: str) -> list[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "code",
    [
        "import genlab",
        "import genlab.settings, genlab.errors",
        "import genlab.models",
        "import genlab.cli",
        "import genlab.tools, genlab.chains, genlab.retrieval, genlab.agents",
    ],
)
def test_imports_pull_in_no_heavy_library(code):
    assert imported_after(code) == []


def test_help_runs_without_heavy_imports_and_lists_the_commands():
    code = "import sys\nfrom genlab.cli import main\nsys.argv=['genlab','--help']\ntry:\n    main()\nexcept SystemExit:\n    pass"
    assert imported_after(code) == []
    out = subprocess.run([sys.executable, "-m", "genlab.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for command in ("models",):
        assert command in out.stdout
