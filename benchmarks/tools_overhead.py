"""Orchestration overhead of the genlab tools, and one load per shared model.

1. Each tool (``tool.invoke``: LangChain callbacks, schema validation, our checks, file
   writing) and the plain function behind it, against the raw pipeline call it makes, on
   the same tiny model with the same arguments. Calls rotate; the figure is the median of
   per-round ratios to the raw call (target: 1.05 or less).
2. A model serving a tool and an LLM wrapper is loaded once: the few-shot tool and
   ``genlab.models.load_llm`` on the same causal model, the summarize tool and a chain's
   plain ``summarize_text``, counted with ``get_runtime().load_counts``.

Tiny models are built offline into a temporary folder (tests/tiny_models.py); on them a
pipeline call takes milliseconds, so this is the worst case for relative overhead.

Run: .venv/bin/python benchmarks/tools_overhead.py [--pairs 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(ROOT / "tests"))

SUMMARY_TEXT = "the cat is a story of the model and the image in the music. " * 3
LABELS = ["positive", "negative", "neutral"]
REVIEWS = [
    {"text": "The pasta was wonderful and the staff were kind.", "label": "positive"},
    {"text": "Cold soup, rude waiter, never again.", "label": "negative"},
]


def build_models(root: Path) -> dict[str, str]:
    import tiny_models

    builders = {
        "t5": tiny_models.build_t5,
        "nli": tiny_models.build_nli,
        "causal": tiny_models.build_causal_lm,
        "image": tiny_models.build_stable_diffusion,
        "music": tiny_models.build_musicgen,
    }
    return {name: str(build(root / name)) for name, build in builders.items()}


def paired(
    tool_call: Callable[[], Any], plain_call: Callable[[], Any], raw_call: Callable[[], Any], pairs: int
) -> dict[str, float]:
    """Median times and median per-round ratios of the tool and its plain function against the raw call."""
    began = time.perf_counter()
    calls = {"tool": tool_call, "plain": plain_call, "raw": raw_call}
    for call in calls.values():
        call()  # warm up: loads, first-call caches
    times: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for i in range(pairs):
        for name in names[i % 3 :] + names[: i % 3]:  # rotate so no call always runs first
            start = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - start)
    ratio = lambda name: statistics.median(t / r for t, r in zip(times[name], times["raw"], strict=False))  # noqa: E731
    print(f"  measured in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    return {
        "raw_ms": round(statistics.median(times["raw"]) * 1000, 2),
        "plain_ms": round(statistics.median(times["plain"]) * 1000, 2),
        "tool_ms": round(statistics.median(times["tool"]) * 1000, 2),
        "plain_ratio": round(ratio("plain"), 3),
        "median_ratio": round(ratio("tool"), 3),
    }


WORKLOADS: dict[str, dict[str, Any]] = {
    # The sizes the tests use: each raw call takes a few milliseconds.
    "tiny": {"side": 64, "steps": 2, "music_s": 0.2, "repeat": 1, "labels": LABELS, "words": 10},
    # Same tiny models, longer calls (still far shorter than a real model's).
    "larger": {
        "side": 128,
        "steps": 8,
        "music_s": 1.0,
        "repeat": 8,
        "labels": [*LABELS, "angry", "bored", "excited"],
        "words": 25,
    },
}


def overhead(pairs: int, workload: dict[str, Any]) -> dict[str, dict[str, float]]:
    import torch

    from genlab.models import get_model
    from genlab.tools import (
        classify_few_shot,
        classify_few_shot_text,
        classify_zero_shot,
        classify_zero_shot_text,
        compose_music,
        generate_image,
        generate_images,
        generate_music,
        summarize,
        summarize_text,
    )
    from genlab.tools.classification import HYPOTHESIS, FewShotExample, few_shot_prompt
    from genlab.tools.music import audio_tokens_for

    rows: dict[str, dict[str, float]] = {}
    words, labels, repeat = workload["words"], workload["labels"], workload["repeat"]

    t5 = get_model("summary")
    rows["summarize"] = paired(
        lambda: summarize.invoke({"text": SUMMARY_TEXT, "max_words": words}),
        lambda: summarize_text(SUMMARY_TEXT, max_words=words),
        lambda: t5("summarize: " + SUMMARY_TEXT, truncation=False, max_new_tokens=2 * words + 8),
        pairs,
    )

    nli = get_model("zero_shot")
    text = " ".join(["The waiter was friendly and the food arrived quickly."] * repeat)
    rows["classify_zero_shot"] = paired(
        lambda: classify_zero_shot.invoke({"text": text, "labels": labels}),
        lambda: classify_zero_shot_text(text, labels),
        lambda: nli(text, candidate_labels=labels, hypothesis_template=HYPOTHESIS),
        pairs,
    )

    causal = get_model("few_shot")
    examples = REVIEWS * min(repeat, 3)  # the tiny byte-level model reads 1024 tokens
    short = "The waiter was friendly and the food arrived quickly."
    prompt = few_shot_prompt(short, LABELS[:2], [FewShotExample(**r) for r in examples])
    new_tokens = max(len(causal.tokenizer(label)["input_ids"]) for label in LABELS[:2]) + 8
    rows["classify_few_shot"] = paired(
        lambda: classify_few_shot.invoke({"text": short, "labels": LABELS[:2], "examples": examples}),
        lambda: classify_few_shot_text(short, LABELS[:2], examples),
        lambda: causal(
            prompt,
            max_new_tokens=new_tokens,
            do_sample=False,
            return_full_text=False,
            stop_strings=["###"],
            tokenizer=causal.tokenizer,
        ),
        pairs,
    )

    sd = get_model("image")
    size = {"width": workload["side"], "height": workload["side"]}
    steps = workload["steps"]
    rows["generate_image"] = paired(
        lambda: generate_image.invoke({"prompt": "a red fox", **size, "steps": steps, "seed": 1}),
        lambda: generate_images("a red fox", **size, steps=steps, seed=1),
        lambda: sd(
            prompt="a red fox",
            **size,
            num_inference_steps=steps,
            guidance_scale=7.5,
            generator=torch.Generator("cpu").manual_seed(1),
        ).images[0],
        pairs,
    )

    musicgen = get_model("music")
    config = musicgen.model.config
    seconds = workload["music_s"]
    tokens = audio_tokens_for(seconds, config.audio_encoder.frame_rate, config.decoder.num_codebooks)

    def raw_music() -> Any:
        with torch.random.fork_rng():
            torch.manual_seed(1)
            return musicgen("calm piano", forward_params={"max_new_tokens": tokens, "do_sample": True})

    rows["generate_music"] = paired(
        lambda: generate_music.invoke({"prompt": "calm piano", "duration_s": seconds, "seed": 1}),
        lambda: compose_music("calm piano", duration_s=seconds, seed=1),
        raw_music,
        pairs,
    )
    return rows


def load_once() -> dict[str, Any]:
    from genlab.models import get_runtime
    from genlab.tools import classify_few_shot, summarize, summarize_text

    runtime = get_runtime()
    checks: dict[str, Any] = {}
    try:
        from genlab.models import load_llm
    except ImportError as exc:  # the LLM wrapper is another module; report, do not hide
        checks["few_shot_tool_and_load_llm"] = f"skipped: {exc}"
    else:
        key = runtime.key_for("few_shot")
        classify_few_shot.invoke({"text": "Great pizza", "labels": ["positive", "negative"]})
        llm = load_llm(os.environ["GENLAB_FEW_SHOT_MODEL"], max_new_tokens=4)
        llm.invoke("Hello")
        classify_few_shot.invoke({"text": "Bad pizza", "labels": ["positive", "negative"]})
        checks["few_shot_tool_and_load_llm"] = runtime.load_counts[key]
    key = runtime.key_for("summary")
    summarize.invoke({"text": "the cat is a model."})
    summarize_text("the model is a cat.", max_words=5)
    checks["summarize_tool_and_summarize_text"] = runtime.load_counts[key]
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=30, help="rounds of (tool, function, raw) calls per tool")
    parser.add_argument("--workload", choices=[*WORKLOADS, "all"], default="all")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="genlab-bench-") as tmp:
        root = Path(tmp)
        models = build_models(root / "models")
        os.environ.update(
            {
                "GENLAB_HOME": str(root / "home"),
                "GENLAB_SUMMARY_MODEL": models["t5"],
                "GENLAB_ZERO_SHOT_MODEL": models["nli"],
                "GENLAB_FEW_SHOT_MODEL": models["causal"],
                "GENLAB_TEXT_MODEL": models["causal"],
                "GENLAB_IMAGE_MODEL": models["image"],
                "GENLAB_MUSIC_MODEL": models["music"],
            }
        )
        import torch

        torch.set_num_threads(1)  # steadier timings on a shared machine; both sides run alike
        names = list(WORKLOADS) if args.workload == "all" else [args.workload]
        tables = {name: overhead(args.pairs, WORKLOADS[name]) for name in names}
        loads = load_once()
    met = {name: all(row["median_ratio"] <= 1.05 for row in rows.values()) for name, rows in tables.items()}
    if args.json:
        print(json.dumps({"overhead": tables, "load_counts": loads, "target_1.05_met": met}))
        return
    print(f"rounds per tool: {args.pairs}; ratios are medians of per-round ratios to the raw pipeline call")
    for name, rows in tables.items():
        print(f"\nworkload {name}: {WORKLOADS[name]}")
        print(f"{'tool':20} {'raw ms':>8} {'function ms':>12} {'tool ms':>8} {'function/raw':>13} {'tool/raw':>9}")
        for tool, row in rows.items():
            print(
                f"{tool:20} {row['raw_ms']:8.2f} {row['plain_ms']:12.2f} {row['tool_ms']:8.2f} "
                f"{row['plain_ratio']:13.3f} {row['median_ratio']:9.3f}"
            )
    print()
    for name, value in loads.items():
        print(f"loads of the shared model, {name}: {value}")
    print(json.dumps({"target_1.05_met": met}))


if __name__ == "__main__":
    main()
