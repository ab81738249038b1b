"""Median wall time of `genlab --help` and `python -c "import genlab"` (target: help under 0.5 s).

Run: .venv/bin/python benchmarks/cli_help.py [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def median_seconds(cmd: list[str], runs: int) -> float:
    subprocess.run(cmd, capture_output=True, check=True)  # warm the file cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    genlab = shutil.which("genlab") or str(Path(sys.executable).parent / "genlab")
    rows = {
        "genlab --help": median_seconds([genlab, "--help"], args.runs),
        "python -c 'import genlab'": median_seconds([sys.executable, "-c", "import genlab"], args.runs),
        "python -c 'pass' (interpreter alone)": median_seconds([sys.executable, "-c", "pass"], args.runs),
    }
    print(f"{'command':40} {'median s':>9}")
    for name, seconds in rows.items():
        print(f"{name:40} {seconds:9.3f}")
    target = rows["genlab --help"] < 0.5
    print(json.dumps({"help_median_s": round(rows["genlab --help"], 3), "target_under_0.5s": target}))


if __name__ == "__main__":
    main()
