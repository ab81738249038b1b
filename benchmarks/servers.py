"""Benchmark: a model behind ``transformers serve`` against the same model in-process.

Usage::

    python benchmarks/servers.py              # the scripted tiny Qwen2 of the test suite
    python benchmarks/servers.py --turns 9 --clients 8 --json

(a) The agent's turn (``build_agent``; the model calls ``search_course``, then answers: two
model calls) with the chat role over ``transformers serve`` on 127.0.0.1 and with the same
folder loaded in-process: median seconds per turn and the difference (the server's
overhead per turn). The tool is a fixed-text ``search_course`` so that only the model path
differs.

(b) ``--clients`` concurrent ``genlab ask --llm`` processes against one server, and as many
processes each loading the model itself: wall time and peak memory (the sum of the RSS of
the clients, plus the server's in the server case; sampled every 0.1 s with psutil, else
from /proc). The point of a server is that the model is loaded once; with a tiny model the
cost that dominates is each process's Python and library imports, which a server does not
remove.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _tree_rss(pids: list[int]) -> int:
    """Bytes of resident memory of ``pids`` and their children."""
    try:
        import psutil
    except ImportError:
        psutil = None
    total = 0
    if psutil is not None:
        for pid in pids:
            try:
                process = psutil.Process(pid)
                for p in [process, *process.children(recursive=True)]:
                    total += p.memory_info().rss
            except psutil.Error:
                continue
        return total
    for pid in pids:  # no psutil: the processes themselves, from /proc
        try:
            fields = Path(f"/proc/{pid}/statm").read_text().split()
            total += int(fields[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            continue
    return total


def agent_turns(model, turns: int) -> list[float]:
    from langchain_core.tools import tool

    from genlab.agents import agent_config, build_agent

    @tool
    def search_course(query: str) -> str:
        """Search the course documents."""
        return "[1] GANs: a generator and a discriminator are trained against each other."

    agent = build_agent(model, tools=[search_course])
    times = []
    for turn in range(turns + 1):  # the first turn warms up (loads the local model)
        start = time.perf_counter()
        result = agent.invoke({"messages": [("user", "What are GANs?")]}, agent_config(f"bench-{turn}"))
        elapsed = time.perf_counter() - start
        assert any(m.type == "tool" for m in result["messages"]), "the model did not call the tool"
        if turn:
            times.append(elapsed)
    return times


def concurrent_asks(clients: int, env: dict[str, str], extra_pids: list[int]) -> tuple[float, int]:
    command = [sys.executable, "-m", "genlab.cli", "ask", "--llm", "What is a GAN?"]
    peak = 0
    start = time.perf_counter()
    procs = [
        subprocess.Popen(command, env=env, cwd=env["GENLAB_HOME"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(clients)
    ]
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss([p.pid for p in procs] + extra_pids))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    outputs = [p.communicate(timeout=600) for p in procs]
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    for p, (_, err) in zip(procs, outputs, strict=True):
        if p.returncode != 0:
            raise SystemExit(f"genlab ask --llm failed ({p.returncode}): {err.decode()[-500:]}")
    return wall, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=5, help="agent turns per side (median)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent genlab ask --llm processes")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import tiny_models
    from model_server import transformers_serve

    with tempfile.TemporaryDirectory() as tmp:
        folder = tiny_models.build_scripted_qwen2(Path(tmp) / "scripted")
        home = Path(tmp) / "home"
        home.mkdir()
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("GENLAB_")}
        base_env.update({"PYTHONPATH": str(ROOT), "GENLAB_HOME": str(home)})
        subprocess.run([sys.executable, "-m", "genlab.cli", "index"], env=base_env, cwd=home, check=True, capture_output=True)
        with transformers_serve(folder, Path(tmp) / "server.log") as server:
            from genlab.models import load_chat_model
            from genlab.settings import Settings

            served = load_chat_model(f"openai:{folder}", settings=Settings(openai_base_url=server.base_url))
            remote = agent_turns(served, args.turns)
            local = agent_turns(load_chat_model(str(folder)), args.turns)
            server_env = {**base_env, "GENLAB_OPENAI_BASE_URL": server.base_url, "GENLAB_CHAT_MODEL": f"openai:{folder}"}
            server_wall, server_peak = concurrent_asks(args.clients, server_env, [server.process.pid])
        local_env = {**base_env, "GENLAB_CHAT_MODEL": str(folder)}
        local_wall, local_peak = concurrent_asks(args.clients, local_env, [])

    figures = {
        "agent_turn_server_median_s": statistics.median(remote),
        "agent_turn_in_process_median_s": statistics.median(local),
        "agent_turn_overhead_s": statistics.median(remote) - statistics.median(local),
        "clients": args.clients,
        "asks_server_wall_s": server_wall,
        "asks_in_process_wall_s": local_wall,
        "asks_server_peak_rss_mb": server_peak / 1e6,
        "asks_in_process_peak_rss_mb": local_peak / 1e6,
    }
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"{'measure':<44}{'server':>12}{'in-process':>12}")
    remote_s, local_s = figures["agent_turn_server_median_s"], figures["agent_turn_in_process_median_s"]
    print(f"{f'agent turn, median of {args.turns} (s)':<44}{remote_s:>12.3f}{local_s:>12.3f}")
    print(f"{f'{args.clients} x genlab ask --llm, wall (s)':<44}{server_wall:>12.1f}{local_wall:>12.1f}")
    print(f"{f'{args.clients} x genlab ask --llm, peak RSS sum (MB)':<44}{server_peak / 1e6:>12.0f}{local_peak / 1e6:>12.0f}")
    print(f"server overhead per agent turn: {figures['agent_turn_overhead_s'] * 1000:+.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
