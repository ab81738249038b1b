"""Regenerate README.md's sample `genlab ask` output from the real command, or check it.

    python scripts/refresh_readme.py          # rewrite the block in README.md
    python scripts/refresh_readme.py --check  # exit 1 if the README differs from the command

The command runs in a fresh GENLAB_HOME (so the course index is built from the bundled
documents, as on a new machine), with its stdout piped: plain text, as in the README. It
needs no generative model, so its output is the same on every machine with this version.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
QUESTION = "How do GANs differ from diffusion models?"
BLOCK = re.compile(r"```console\n\$ genlab ask \"(?P<question>[^\"]+)\"\n(?P<output>.*?)```", re.S)


def run_ask(question: str = QUESTION) -> str:
    """Return what `genlab ask QUESTION` prints in a fresh home."""
    with tempfile.TemporaryDirectory(prefix="genlab-readme-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GENLAB_")}
        env["GENLAB_HOME"] = home
        proc = subprocess.run(
            [sys.executable, "-m", "genlab.cli", "ask", question],
            capture_output=True,
            text=True,
            env=env,
            cwd=home,
            timeout=600,
        )
    if proc.returncode != 0:
        raise SystemExit(f"genlab ask failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the README is stale")
    args = parser.parse_args()
    text = README.read_text(encoding="utf-8")
    match = BLOCK.search(text)
    if match is None:
        raise SystemExit('README.md has no ```console block starting with `$ genlab ask "..."`')
    output = run_ask(match.group("question"))
    if args.check:
        if match.group("output") == output:
            return 0
        sys.stderr.write("README.md's `genlab ask` sample differs from the command; run scripts/refresh_readme.py\n")
        return 1
    start, end = match.span("output")
    README.write_text(text[:start] + output + text[end:], encoding="utf-8")
    print(f"README.md: `genlab ask` sample refreshed ({len(output.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
