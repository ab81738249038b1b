"""Retrieval speed: indexing, re-indexing, query latency, and a warm `genlab ask` process.

1. First index of the bundled documents: ``genlab index --store S --json`` in a fresh
   GENLAB_HOME (a whole process: imports, model load, chunking, embedding, writing), and the
   same work in-process with the model already loaded.
2. Unchanged re-index: the same command again (target: nothing embedded), and
   ``CourseIndex.sync()`` in-process (target: under 2 s of work).
3. Query latency in-process over ~50 queries (the dev-set questions, then a few keyword
   queries): ``Searcher.search(q, k=4, mode="hybrid")`` embedding the query (target: p50 under
   50 ms), split into embedding the query and searching with the vector, plus the whole
   extractive ``answer_question`` on a sample. Measured with torch's default intra-op threads
   (what genlab does) and with one: on a shared 2-core machine, two spinning threads stall
   whenever another process holds a core.
4. A warm ``genlab ask "..." --json`` process against a plain script with the usual LangChain
   recipe: ``HuggingFaceEmbeddings`` + ``FAISS.load_local`` of an index this benchmark saved
   with ``FAISS.save_local``, then ``similarity_search(k=4)``. Runs alternate, one warm-up run
   each first; medians of wall time (target: genlab at most half the baseline's time). The
   baseline prints the 4 passages; genlab also composes its cited extractive answer.

5. Scale (``--scale 10,100``): the bundled documents copied N times (each copy a distinct
   note folder, so every chunk is new). ``--scale-full N`` runs the whole index for those N
   (first index, unchanged re-index, hybrid query p50/p95); the keyword index alone (bm25s:
   build, save, load, query p50/p95) runs for every N, beside ``rank-bm25`` when it is
   installed (rebuilt per process, which is what genlab did before).

Everything runs in a temporary GENLAB_HOME with HF_HUB_OFFLINE=1.

Run: .venv/bin/python benchmarks/retrieval_speed.py [--queries 50] [--runs 5] [--answers 20] [--stores faiss,chroma]
     .venv/bin/python benchmarks/retrieval_speed.py --only-scale --scale 10,100 --scale-full 10
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "benchmarks"))

ASK_QUESTION = "How do GANs differ from diffusion models?"
EXTRA_QUERIES = [
    "VAE",
    "CycleGAN",
    "mode collapse",
    "Stable Diffusion sampling steps",
    "GPT-2 text generation",
    "What is a latent space?",
]

BASELINE_SCRIPT = """\
import json, sys, warnings
warnings.simplefilter("ignore")
from langchain_huggingface import HuggingFaceEmbeddings
from langchain_community.vectorstores import FAISS

folder, path, question = sys.argv[1:4]
embeddings = HuggingFaceEmbeddings(model_name=folder, encode_kwargs={"normalize_embeddings": True})
store = FAISS.load_local(path, embeddings, allow_dangerous_deserialization=True)
docs = store.similarity_search(question, k=4)
print(json.dumps([{"source": d.metadata["source"], "text": d.page_content} for d in docs]))
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Run a command; return its wall time and stdout (raise with its stderr if it fails)."""
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} ... failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return elapsed, done.stdout


def indexing(stores: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Steps 1 and 2 through the CLI, each in a fresh process."""
    out: dict[str, Any] = {}
    for store in stores:
        first_s, first = run([str(BIN / "genlab"), "index", "--store", store, "--json"], env)
        again_s, again = run([str(BIN / "genlab"), "index", "--store", store, "--json"], env)
        first_report, again_report = json.loads(first), json.loads(again)
        out[store] = {
            "chunks": first_report["chunks"],
            "first_index_process_s": round(first_s, 2),
            "first_embedded": first_report["embedded"],
            "reindex_process_s": round(again_s, 2),
            "reindex_embedded": again_report["embedded"],
            "reindex_changed": again_report["changed"],
        }
    return out


def in_process_indexing(stores: list[str], home: Path) -> dict[str, Any]:
    """Steps 1 and 2 in-process, with the embedding model already loaded."""
    from genlab.models import get_model
    from genlab.retrieval.index import CourseIndex

    get_model("embedding")
    out: dict[str, Any] = {}
    for store in stores:
        index = CourseIndex(store, home=home / "in-process")
        start = time.perf_counter()
        report = index.sync()
        first = time.perf_counter() - start
        times, embedded = [], []
        for _ in range(3):
            start = time.perf_counter()
            again = index.sync()
            times.append(time.perf_counter() - start)
            embedded.append(again.embedded)
        out[store] = {
            "first_index_work_s": round(first, 2),
            "first_embedded": report.embedded,
            "reindex_work_ms": round(statistics.median(times) * 1000, 1),
            "reindex_embedded": max(embedded),
        }
    return out


def latency(stores: list[str], queries: list[str], answers: int) -> dict[str, Any]:
    """Step 3: per-query times in milliseconds, p50 and p95, with torch's default threads and with one."""
    import torch

    from genlab.retrieval.index import embed_texts
    from genlab.retrieval.qa import answer_question
    from genlab.retrieval.search import get_searcher

    default_threads = torch.get_num_threads()
    out: dict[str, Any] = {}
    for store in stores:
        searcher, _ = get_searcher(store)
        for threads in (default_threads, 1):
            torch.set_num_threads(threads)
            for q in queries[:5]:  # warm up: first-call allocations, chroma's client
                searcher.search(q, k=4)
            timings: dict[str, list[float]] = {"search": [], "embed": [], "search_vector": [], "answer": []}
            for q in queries:
                start = time.perf_counter()
                searcher.search(q, k=4, mode="hybrid")
                timings["search"].append(time.perf_counter() - start)
                start = time.perf_counter()
                vector = embed_texts([q])[0]
                timings["embed"].append(time.perf_counter() - start)
                start = time.perf_counter()
                searcher.search(q, k=4, mode="hybrid", query_vector=vector)
                timings["search_vector"].append(time.perf_counter() - start)
            if threads == default_threads:
                for q in queries[:answers]:  # the whole extractive answer embeds ~30 sentences: sampled
                    start = time.perf_counter()
                    answer_question(q, store=store)
                    timings["answer"].append(time.perf_counter() - start)
            out[f"{store}/{threads}"] = {
                f"{name}_{stat}_ms": round(percentile(values, q) * 1000, 1)
                for name, values in timings.items()
                if values
                for stat, q in (("p50", 0.5), ("p95", 0.95))
            }
        torch.set_num_threads(default_threads)
    return out


def processes(runs: int, env: dict[str, str], work: Path) -> dict[str, Any]:
    """Step 4: warm `genlab ask` against the LangChain recipe's script, alternating."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langchain_community.vectorstores import FAISS

    from retrieval_quality import baseline_documents, baseline_embeddings

    from genlab.settings import get_settings

    saved = work / "baseline-faiss"
    FAISS.from_documents(baseline_documents(), baseline_embeddings()).save_local(str(saved))
    script = work / "baseline_query.py"
    script.write_text(BASELINE_SCRIPT, encoding="utf-8")
    folder = str(get_settings().model_for("embedding"))
    commands = {
        "genlab": [str(BIN / "genlab"), "ask", ASK_QUESTION, "--json"],
        "baseline": [sys.executable, str(script), folder, str(saved), ASK_QUESTION],
    }
    for command in commands.values():
        run(command, env)  # warm-up: file cache, and genlab's index exists already
    times: dict[str, list[float]] = {name: [] for name in commands}
    for i in range(runs):
        order = list(commands) if i % 2 == 0 else list(reversed(commands))
        for name in order:
            times[name].append(run(commands[name], env)[0])
    genlab_s, baseline_s = statistics.median(times["genlab"]), statistics.median(times["baseline"])
    return {
        "genlab_ask_s": round(genlab_s, 2),
        "baseline_s": round(baseline_s, 2),
        "ratio": round(genlab_s / baseline_s, 3),
        "genlab_runs_s": [round(t, 2) for t in times["genlab"]],
        "baseline_runs_s": [round(t, 2) for t in times["baseline"]],
    }


def scaled_corpus(work: Path, times: int) -> Path:
    """A folder of ``times`` copies of the bundled documents, each made distinct."""
    from genlab.retrieval.corpus import bundled_corpus_dir

    folder = work / f"corpus-x{times}"
    for copy in range(times):
        target = folder / f"copy-{copy:03d}"
        target.mkdir(parents=True, exist_ok=True)
        for path in bundled_corpus_dir().glob("*.md"):
            (target / path.name).write_text(f"# Copy {copy}\n\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def keyword_scale(work: Path, times: int, queries: list[str]) -> dict[str, Any]:
    """The keyword index alone over ``times`` copies: bm25s build / save / load / query, and rank-bm25."""
    from genlab.retrieval.chunking import chunk_document
    from genlab.retrieval.keyword import KeywordIndex
    from genlab.retrieval.text import tokenize

    texts = []
    for path in sorted(scaled_corpus(work, times).rglob("*.md")):
        texts += [c.context_text for c in chunk_document(path.read_text(encoding="utf-8"), str(path))]
    start = time.perf_counter()
    keyword = KeywordIndex.build(texts)
    build_s = time.perf_counter() - start
    folder = work / f"keyword-x{times}"
    start = time.perf_counter()
    keyword.save(folder)
    save_s = time.perf_counter() - start
    start = time.perf_counter()
    loaded = KeywordIndex.load(folder, len(texts))
    load_s = time.perf_counter() - start
    timings = []
    for q in queries:
        start = time.perf_counter()
        loaded.top(q, 20)
        timings.append(time.perf_counter() - start)
    out = {
        "chunks": len(texts),
        "bm25s_build_s": round(build_s, 2),
        "bm25s_save_s": round(save_s, 3),
        "bm25s_load_s": round(load_s, 3),
        "bm25s_query_p50_ms": round(percentile(timings, 0.5) * 1000, 2),
        "bm25s_query_p95_ms": round(percentile(timings, 0.95) * 1000, 2),
    }
    try:
        from rank_bm25 import BM25Okapi
    except ImportError:
        return out
    start = time.perf_counter()
    old = BM25Okapi([tokenize(t) for t in texts])
    out["rank_bm25_build_s"] = round(time.perf_counter() - start, 2)
    timings = []
    for q in queries:
        start = time.perf_counter()
        scores = old.get_scores(tokenize(q))
        sorted(range(len(scores)), key=lambda i: -scores[i])[:20]
        timings.append(time.perf_counter() - start)
    out["rank_bm25_query_p50_ms"] = round(percentile(timings, 0.5) * 1000, 2)
    out["rank_bm25_query_p95_ms"] = round(percentile(timings, 0.95) * 1000, 2)
    return out


def full_scale(work: Path, times: int, queries: list[str]) -> dict[str, Any]:
    """The whole FAISS index over ``times`` copies: first index, unchanged re-index, hybrid queries."""
    from genlab.models import get_model
    from genlab.retrieval.index import CourseIndex
    from genlab.retrieval.search import Searcher

    get_model("embedding")
    folder = scaled_corpus(work, times)
    index = CourseIndex("faiss", home=work / f"home-x{times}")
    start = time.perf_counter()
    first = index.sync([str(folder)])
    first_s = time.perf_counter() - start
    start = time.perf_counter()
    again = index.sync()
    again_s = time.perf_counter() - start
    start = time.perf_counter()
    searcher = Searcher(index.load())
    load_s = time.perf_counter() - start
    timings = []
    for q in queries:
        start = time.perf_counter()
        searcher.search(q, k=4)
        timings.append(time.perf_counter() - start)
    return {
        "chunks": first.chunks,
        "first_index_s": round(first_s, 1),
        "embedded": first.embedded,
        "reindex_s": round(again_s, 2),
        "reindex_embedded": again.embedded,
        "load_s": round(load_s, 2),
        "hybrid_query_p50_ms": round(percentile(timings, 0.5) * 1000, 1),
        "hybrid_query_p95_ms": round(percentile(timings, 0.95) * 1000, 1),
    }


def scale(args: argparse.Namespace, queries: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="genlab-bench-scale-") as tmp:
        work = Path(tmp)
        os.environ["GENLAB_HOME"] = str(work / "home")
        os.environ["HF_HUB_OFFLINE"] = "1"
        from genlab.settings import get_settings

        get_settings.cache_clear()
        figures: dict[str, Any] = {"keyword": {}, "full": {}}
        for times in [int(n) for n in args.scale.split(",") if n]:
            figures["keyword"][times] = k = keyword_scale(work, times, queries)
            print(
                f"x{times}: {k['chunks']} chunks; bm25s build {k['bm25s_build_s']} s, save {k['bm25s_save_s']} s, load "
                f"{k['bm25s_load_s']} s, query p50/p95 {k['bm25s_query_p50_ms']} / {k['bm25s_query_p95_ms']} ms"
                + (
                    f"; rank-bm25 build {k['rank_bm25_build_s']} s, query {k['rank_bm25_query_p50_ms']} / "
                    f"{k['rank_bm25_query_p95_ms']} ms"
                    if "rank_bm25_build_s" in k
                    else ""
                )
            )
        for times in [int(n) for n in args.scale_full.split(",") if n]:
            figures["full"][times] = f = full_scale(work, times, queries)
            print(
                f"x{times} whole index: {f['chunks']} chunks, first index {f['first_index_s']} s ({f['embedded']} embedded), "
                f"re-index {f['reindex_s']} s ({f['reindex_embedded']} embedded), load {f['load_s']} s, "
                f"hybrid query p50/p95 {f['hybrid_query_p50_ms']} / {f['hybrid_query_p95_ms']} ms"
            )
        print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--queries", type=int, default=50, help="queries for the latency figures")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each process")
    parser.add_argument("--stores", default="faiss,chroma", help="comma-separated: faiss,chroma")
    parser.add_argument("--answers", type=int, default=20, help="queries answered with answer_question (slower)")
    parser.add_argument("--scale", default="", help="multiples of the bundled documents for the keyword index, e.g. 10,100")
    parser.add_argument("--scale-full", default="", help="multiples for the whole index (embedding them takes minutes), e.g. 10")
    parser.add_argument("--only-scale", action="store_true", help="run only the scale measurements")
    args = parser.parse_args()
    stores = [s for s in args.stores.split(",") if s]
    if not stores or set(stores) - {"faiss", "chroma"}:
        parser.error("--stores takes faiss, chroma or both")

    from retrieval_quality import load_devset

    pool = [row["question"] for row in load_devset()] + EXTRA_QUERIES
    queries = (pool * (args.queries // len(pool) + 1))[: args.queries]
    if args.scale or args.scale_full:
        scale(args, queries)
        if args.only_scale:
            return

    with tempfile.TemporaryDirectory(prefix="genlab-bench-") as tmp:
        work = Path(tmp)
        for name in [n for n in os.environ if n.startswith("GENLAB_")]:
            del os.environ[name]
        os.environ["GENLAB_HOME"] = str(work / "home")
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        env = dict(os.environ)
        from genlab.settings import get_settings

        get_settings.cache_clear()
        import torch

        threads = torch.get_num_threads()
        load_before = os.getloadavg()[0]
        began = time.perf_counter()
        cli = indexing(stores, env)
        print(f"  indexed through the CLI in {time.perf_counter() - began:.1f} s", file=sys.stderr)
        work_figures = in_process_indexing(stores, work)
        lat = latency(stores, queries, args.answers)
        print(f"  latency measured at {time.perf_counter() - began:.1f} s", file=sys.stderr)
        proc = processes(args.runs, env, work)
        print(f"  measured in {time.perf_counter() - began:.1f} s", file=sys.stderr)
        load_after = os.getloadavg()[0]

    print(
        f"{os.cpu_count()} cores; 1-minute load average {load_before:.2f} before, {load_after:.2f} after (other jobs share the cores)"
    )
    print(f"indexing the bundled documents ({', '.join(stores)})")
    print(
        f"{'store':<7} {'chunks':>6} {'first: process s':>17} {'work s':>7} {'embedded':>8}   {'re-index: process s':>19} {'work ms':>8} {'embedded':>8}"
    )
    for store in stores:
        c, w = cli[store], work_figures[store]
        print(
            f"{store:<7} {c['chunks']:>6} {c['first_index_process_s']:>17.2f} {w['first_index_work_s']:>7.2f} {c['first_embedded']:>8}"
            f"   {c['reindex_process_s']:>19.2f} {w['reindex_work_ms']:>8.1f} {max(c['reindex_embedded'], w['reindex_embedded']):>8}"
        )
    print(f"\nquery latency in-process over {len(queries)} queries, ms (p50 / p95); answer_question over {args.answers}")
    print(
        f"{'store':<7} {'torch threads':>13} {'hybrid search':>15} {'embed query':>13} {'search w/ vector':>17} {'answer_question':>16}"
    )

    def cell(figures: dict[str, float], name: str) -> str:
        return f"{figures[name + '_p50_ms']:.1f} / {figures[name + '_p95_ms']:.1f}" if name + "_p50_ms" in figures else "-"

    for key, s in lat.items():
        store, n = key.split("/")
        label = f"{n} (default)" if int(n) == threads else n
        print(
            f"{store:<7} {label:>13} {cell(s, 'search'):>15} {cell(s, 'embed'):>13} {cell(s, 'search_vector'):>17} {cell(s, 'answer'):>16}"
        )
    print(
        f"\nwarm process, median of {args.runs} runs: genlab ask --json {proc['genlab_ask_s']:.2f} s, "
        f"LangChain FAISS script {proc['baseline_s']:.2f} s, ratio {proc['ratio']:.3f}"
    )
    summary = {
        "indexing": {store: {**cli[store], **work_figures[store]} for store in stores},
        "latency_ms": lat,
        "queries": len(queries),
        "torch_threads_default": threads,
        "load_average": [round(load_before, 2), round(load_after, 2)],
        "process": proc,
        "targets": {
            "reindex_embeds_nothing": all(
                cli[s]["reindex_embedded"] == 0 and work_figures[s]["reindex_embedded"] == 0 for s in stores
            ),
            "reindex_work_under_2s": all(work_figures[s]["reindex_work_ms"] < 2000 for s in stores),
            "search_p50_under_50ms": all(lat[f"{s}/{threads}"]["search_p50_ms"] < 50 for s in stores),
            "ask_at_most_half_baseline": proc["ratio"] <= 0.5,
        },
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
