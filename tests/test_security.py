"""Safe defaults: nothing unpickled from disk, no remote code, no dangerous agent tools."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "genlab"

DANGEROUS = [
    (r"\bpickle\.loads?\(", "unpickling"),
    (r"allow_dangerous_deserialization\s*=\s*True", "FAISS.load_local's pickle docstore"),
    (r"trust_remote_code\s*=\s*True", "running a model repository's code"),
    (r"torch\.load\((?![^)]*weights_only\s*=\s*True)", "torch.load without weights_only=True"),
    (r"(?<![.\w])(?:eval|exec)\(", "evaluating strings as code"),
    (r"subprocess|os\.system\(", "running shell commands"),
]


@pytest.mark.parametrize(("pattern", "why"), DANGEROUS, ids=[d[1] for d in DANGEROUS])
def test_package_source_has_no_dangerous_calls(pattern, why):
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{number}"
        for path in PACKAGE.rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if re.search(pattern, line) and not line.lstrip().startswith("#")
    ]
    assert offenders == [], f"{why} in {offenders}"


def test_session_store_never_falls_back_to_pickle(tmp_path):
    from genlab.agents.memory import open_checkpointer

    saver = open_checkpointer(tmp_path / "sessions.sqlite")
    serde = saver.serde
    assert getattr(serde, "pickle_fallback", False) is False
    # A planted pickle record is refused, not executed.
    with pytest.raises(NotImplementedError):  # LangGraph's serializer: pickle is not a known type
        serde.loads_typed(("pickle", b"cos\nsystem\n(S'echo pwned'\ntR."))


def test_the_agent_has_exactly_the_seven_course_tools():
    from genlab.agents import default_tools

    names = sorted(t.name for t in default_tools())
    assert names == sorted(
        [
            "search_course",
            "summarize",
            "classify_zero_shot",
            "classify_few_shot",
            "write_story",
            "generate_image",
            "generate_music",
        ]
    )
