"""Abstention: does the offline (extractive) answer decline what the course does not say?

Two kinds of questions, each a JSON line with ``question``:

- covered: the documents answer it (rows with an ``answer_snippet``, or ``"covered": true``);
  declining one is a mistake;
- uncovered: on-topic questions the documents do not answer (``"covered": false``, or
  ``kind`` ``uncovered``); the answer should decline.

Sets: ``dev`` = benchmarks/devset.jsonl, heldout.jsonl and dev_covered_extra.jsonl (covered)
and benchmarks/dev_uncovered.jsonl (uncovered), the only sets genlab's thresholds were chosen
on; ``--file PATH`` reads any set in that format (the blind set, benchmarks/blind.jsonl).

An answer declines when it starts with "The course documents do not cover this question."
(what genlab has said when declining since the first version, so the same script measures an
older checkout: ``PYTHONPATH=/path/to/old/checkout``).

Everything runs in a temporary GENLAB_HOME; nothing outside it is touched.

Run: .venv/bin/python benchmarks/abstention.py [--set dev] [--file PATH] [--show]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NOT_COVERED = "The course documents do not cover this question."
DEV = tuple(
    ROOT / "benchmarks" / name for name in ("devset.jsonl", "heldout.jsonl", "dev_covered_extra.jsonl", "dev_uncovered.jsonl")
)


def is_covered(row: dict[str, Any]) -> bool:
    """Whether a question-set row is one the documents answer."""
    if "covered" in row:
        return bool(row["covered"])
    if str(row.get("kind", "")).lower() in ("uncovered", "not covered", "not_covered"):
        return False
    return bool(row.get("answer_snippet") or row.get("source") or row.get("section"))


def read_rows(paths: list[Path]) -> list[dict[str, Any]]:
    rows = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                row["covered"] = is_covered(row)
                rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--set", default="dev", choices=["dev"], help="the dev sets (tuned on)")
    parser.add_argument("--file", type=Path, help="a question set to measure instead (JSON lines)")
    parser.add_argument("--store", default="faiss", choices=["faiss", "chroma"])
    parser.add_argument("--show", action="store_true", help="print every question with its answer")
    args = parser.parse_args()
    rows = read_rows([args.file] if args.file else list(DEV))

    with tempfile.TemporaryDirectory(prefix="genlab-bench-") as tmp:
        for name in [n for n in os.environ if n.startswith("GENLAB_")]:
            del os.environ[name]
        os.environ["GENLAB_HOME"] = tmp
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from genlab.retrieval.qa import answer_question
        from genlab.settings import get_settings

        get_settings.cache_clear()
        began = time.perf_counter()
        for row in rows:
            result = answer_question(row["question"], k=4, store=args.store)
            row["declined"] = result["answer"].startswith(NOT_COVERED)
            row["answer"] = result["answer"]
        print(f"  answered {len(rows)} questions in {time.perf_counter() - began:.1f} s", file=sys.stderr)

    covered = [r for r in rows if r["covered"]]
    uncovered = [r for r in rows if not r["covered"]]
    wrongly = sum(r["declined"] for r in covered) / max(len(covered), 1)
    rightly = sum(r["declined"] for r in uncovered) / max(len(uncovered), 1)
    if args.show:
        for r in rows:
            mark = ("ok " if r["declined"] != r["covered"] else "BAD") + (" covered  " if r["covered"] else " uncovered")
            print(f"{mark} | {r['question']}\n      {r['answer'][:300]}")
    print(f"{len(covered)} covered, {len(uncovered)} uncovered questions ({args.file or 'dev sets'}, store {args.store})")
    print(f"uncovered declined: {rightly:.3f} (goal >= 0.80)   covered wrongly declined: {wrongly:.3f} (goal <= 0.05)")
    summary = {"covered": len(covered), "uncovered": len(uncovered)}
    summary.update(uncovered_declined=round(rightly, 3), covered_declined=round(wrongly, 3))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
