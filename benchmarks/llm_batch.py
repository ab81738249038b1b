"""Benchmark: ``LocalLLM.batch`` (tensor batches) against one ``invoke`` per prompt; load-once check.

Usage::

    python benchmarks/llm_batch.py                     # tiny random causal LM, built offline
    python benchmarks/llm_batch.py --model Qwen/Qwen2.5-0.5B-Instruct --max-new-tokens 64
    python benchmarks/llm_batch.py --json

Part 1 times ``llm.batch(prompts)`` (one ``generate`` call for all prompts) against
``[llm.invoke(p) for p in prompts]``, several rounds, and prints the median ratio (target:
3x or more for 16 prompts). Greedy decoding, so both produce the same texts (checked).

Part 2 loads one chat model folder through a tool (``classify_few_shot_text``), the text LLM
wrapper (``load_llm``) and the chat wrapper (``load_chat_model``), then prints how many times
the runtime loaded it (``get_runtime().load_counts``): 1 means shared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def _tiny_models(folder: Path) -> tuple[str, str]:
    """Build the test suite's tiny causal LM and tiny chat model into ``folder``."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import tiny_models

    causal, chat = folder / "causal", folder / "chat"
    tiny_models.build_causal_lm(causal)
    tiny_models.build_causal_lm(chat, chat=True)
    return str(causal), str(chat)


def time_batch_vs_invoke(model: str, prompts: list[str], max_new_tokens: int, rounds: int) -> dict[str, object]:
    from genlab.models import load_llm

    llm = load_llm(model, max_new_tokens=max_new_tokens, do_sample=False, batch_size=len(prompts))
    llm.invoke(prompts[0])  # load and warm up
    llm.batch(prompts)
    invoke_s, batch_s = [], []
    same = True
    for _ in range(rounds):
        started = time.perf_counter()
        one_by_one = [llm.invoke(p) for p in prompts]
        invoke_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        batched = llm.batch(prompts)
        batch_s.append(time.perf_counter() - started)
        same = same and batched == one_by_one
    ratios = [i / b for i, b in zip(invoke_s, batch_s, strict=False)]
    return {
        "prompts": len(prompts),
        "max_new_tokens": max_new_tokens,
        "rounds": rounds,
        "invoke_median_s": round(statistics.median(invoke_s), 4),
        "batch_median_s": round(statistics.median(batch_s), 4),
        "median_ratio": round(statistics.median(ratios), 2),
        "same_texts": same,
    }


def count_loads(chat_model: str) -> dict[str, object]:
    from genlab.models import get_runtime, load_chat_model, load_llm

    runtime = get_runtime()
    used = []
    try:
        from genlab.tools import classify_few_shot_text

        classify_few_shot_text("I loved this film", ["positive", "negative"], model=chat_model)
        used.append("tool classify_few_shot_text")
    except ImportError as exc:  # the tools package is built by another part of the project
        print(f"(skipping the tool: {exc})", file=sys.stderr)
    load_llm(chat_model, max_new_tokens=4).invoke("Hello")
    used.append("load_llm")
    load_chat_model(chat_model, max_new_tokens=4).invoke("Hello")
    used.append("load_chat_model")
    key = runtime.key_for("chat", chat_model)
    return {
        "users": used,
        "model": chat_model,
        "load_count": runtime.load_counts[key],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="causal LM for part 1 (default: the tiny random one)")
    parser.add_argument("--chat-model", help="instruct model with a chat template for part 2 (default: tiny)")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        causal, chat = _tiny_models(Path(tmp)) if not (args.model and args.chat_model) else ("", "")
        model, chat_model = args.model or causal, args.chat_model or chat
        # Prompts of different lengths, so batches really need (left) padding.
        prompts = [f"Prompt {i}: " + "tell me a story " * (1 + i % 4) for i in range(args.prompts)]
        import torch

        from genlab.models.device import resolve_device
        from genlab.settings import get_settings

        result = {
            "device": resolve_device(get_settings().device),
            "torch_threads": torch.get_num_threads(),
            "batch_vs_invoke": time_batch_vs_invoke(model, prompts, args.max_new_tokens, args.rounds),
            "load_once": count_loads(chat_model),
        }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    speed = result["batch_vs_invoke"]
    print(f"device {result['device']}, {result['torch_threads']} torch threads")
    print(
        f"{speed['prompts']} prompts x {speed['max_new_tokens']} new tokens, median of {speed['rounds']} rounds: "
        f"{speed['prompts']} invokes {speed['invoke_median_s']:.3f} s, one batch {speed['batch_median_s']:.3f} s, "
        f"median ratio {speed['median_ratio']:.1f}x (target >= 3x); same texts: {speed['same_texts']}"
    )
    loads = result["load_once"]
    print(f"load count of one model used by {', '.join(loads['users'])}: {loads['load_count']} (target 1)")


if __name__ == "__main__":
    main()
