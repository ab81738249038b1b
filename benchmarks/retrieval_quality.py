"""Retrieval quality: genlab's dense, BM25 and hybrid search vs the LangChain recipe.

Two question sets, same format: the dev set (benchmarks/devset.jsonl, 44 questions) that
genlab's retrieval was tuned against, and a held-out set (benchmarks/heldout.jsonl, 36
questions) written afterwards by someone who read only the course documents, never the dev
set or the code, and not used for any choice since. Each line is a question in a learner's
own words, the course document that answers it, and ``answer_snippet``, 5-12 words copied
verbatim from the answering passage. A retrieved chunk is a hit when it comes from that
document and its text contains the snippet (both compared with whitespace collapsed).

Rows (method x store), all with the bundled all-MiniLM-L6-v2 and top 4:

- genlab ``dense`` / ``bm25`` / ``hybrid`` (the default, relative score fusion) / ``hybrid
  rrf`` (reciprocal rank fusion) from ``Searcher.search`` over ``CourseIndex`` for ``faiss``
  and ``chroma``;
- the usual LangChain recipe as the baseline: ``RecursiveCharacterTextSplitter(chunk_size=1000,
  chunk_overlap=200)`` + ``HuggingFaceEmbeddings`` (normalized) + ``FAISS`` (and ``Chroma``),
  ``similarity_search(k=4)``.

Columns: hit@1, hit@4 and MRR over the top 4 (1/rank of the first hit, 0 when it is not in the
top 4). "reachable" is the share of questions whose snippet lies whole inside some chunk of that
method (a chunk boundary through a snippet makes the question unanswerable for that method).

The issue's target: hybrid hit@4 >= 0.95 and MRR >= 0.85.

Everything runs in a temporary GENLAB_HOME; nothing outside it is touched.

Run: .venv/bin/python benchmarks/retrieval_quality.py [--set dev|heldout] [--misses] [--stores faiss,chroma]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SETS = {"dev": ROOT / "benchmarks" / "devset.jsonl", "heldout": ROOT / "benchmarks" / "heldout.jsonl"}
#: The blind set scores by section, not by snippet (see :func:`load_blind`).
BLIND = ROOT / "benchmarks" / "blind.jsonl"
#: Where the blind set's documents live under the names its writer saw (same bytes as the corpus).
SHARED_COURSE = Path("/work/shared/course")
CORPUS = ROOT / "genlab" / "retrieval" / "corpus"
K = 4
#: (row name, Searcher.search mode, fusion)
MODES = (
    ("dense", "dense", "relative"),
    ("bm25", "bm25", "relative"),
    ("hybrid", "hybrid", "relative"),
    ("hybrid rrf", "hybrid", "rrf"),
)


def collapse(text: str) -> str:
    return " ".join(text.split())


def load_blind(path: Path = BLIND) -> list[dict[str, Any]]:
    """Read the blind set's covered questions: each names its document (by the name its writer
    saw) and the heading(s) of the answering section(s)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_bytes = {p.read_bytes(): p.name for p in CORPUS.glob("*.md")}
    names = {p.name: by_bytes.get(p.read_bytes(), p.name) for p in SHARED_COURSE.glob("*.txt")} if SHARED_COURSE.is_dir() else {}
    covered = [r for r in rows if r.get("kind") == "covered"]
    for row in covered:
        row["source"] = names.get(row["doc"], row["doc"])
    return covered


def _heading(text: str) -> str:
    return " ".join(text.casefold().replace("’", "'").split()).strip(" :.")


def load_devset(path: Path = SETS["dev"]) -> list[dict[str, str]]:
    """Read the dev set and check that every snippet is a verbatim, unique, 5-12 word quote of its source."""
    if path.name == "blind.jsonl":
        return load_blind(path)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    documents = {p.name: collapse(p.read_text(encoding="utf-8")) for p in CORPUS.glob("*.md")}
    problems = []
    for number, row in enumerate(rows, start=1):
        snippet = collapse(row["answer_snippet"])
        if row["source"] not in documents:
            problems.append(f"line {number}: unknown source {row['source']!r}")
        elif documents[row["source"]].count(snippet) != 1:
            problems.append(f"line {number}: snippet occurs {documents[row['source']].count(snippet)} times in {row['source']}")
        if not 5 <= len(snippet.split()) <= 12:
            problems.append(f"line {number}: snippet has {len(snippet.split())} words (5-12 allowed)")
    if problems:
        raise SystemExit("invalid dev set:\n" + "\n".join(problems))
    return rows


def is_hit(row: dict[str, Any], source: str, text: str, section: str | None = None) -> bool:
    """A snippet row: the chunk quotes the snippet. A blind row (``sections``): the chunk sits in
    one of the answering sections (``section`` is None for the LangChain recipe's chunks, which
    have no headings: then the section's heading must be in its text)."""
    if source != row["source"]:
        return False
    if "answer_snippet" in row:
        return collapse(row["answer_snippet"]) in collapse(text)
    return any(_in_section(wanted, section, text) for wanted in row["sections"])


def _in_section(wanted: str, section: str | None, text: str) -> bool:
    if section is None:
        return _heading(wanted) in _heading(text)
    return _heading(wanted) in {_heading(part) for part in section.split(" > ")}


def _rank(row: dict[str, Any], results: list[tuple[str, ...]]) -> int | None:
    """Rank of the first hit in the top K; for a blind row naming several sections (a two-part
    question), the rank by which every one of them has appeared."""
    top = list(enumerate(results[:K], start=1))
    if "answer_snippet" in row or len(row.get("sections", [])) < 2:
        return next((i for i, result in top if is_hit(row, *result)), None)
    ranks = []
    for wanted in row["sections"]:
        one = dict(row, sections=[wanted])
        ranks.append(next((i for i, result in top if is_hit(one, *result)), None))
    return None if None in ranks else max(r for r in ranks if r is not None)


def score(rows: list[dict[str, Any]], ranked: list[list[tuple[str, ...]]]) -> dict[str, Any]:
    """hit@1, hit@4 and MRR@4 of ranked (source, text[, section]) lists, one list per row."""
    ranks: list[int | None] = [_rank(row, results) for row, results in zip(rows, ranked, strict=False)]
    n = len(rows)
    return {
        "hit@1": round(sum(r == 1 for r in ranks) / n, 3),
        "hit@4": round(sum(r is not None for r in ranks) / n, 3),
        "mrr": round(sum(1 / r for r in ranks if r) / n, 3),
        "ranks": ranks,
    }


def reachable(rows: list[dict[str, Any]], chunks: list[tuple[str, ...]]) -> float:
    """Share of rows whose snippet lies whole inside at least one chunk."""
    found = sum(any(is_hit(row, *chunk) for chunk in chunks) for row in rows)
    return round(found / len(rows), 3)


# --- genlab ---------------------------------------------------------------------------------


def genlab_rows(rows: list[dict[str, str]], stores: list[str]) -> list[dict[str, Any]]:
    from genlab.retrieval.index import CourseIndex, embed_texts
    from genlab.retrieval.search import Searcher

    # Embedded once and given to every mode and store, so all rows see the same query vectors.
    vectors = embed_texts([row["question"] for row in rows])
    results = []
    for store in stores:
        began = time.perf_counter()
        index = CourseIndex(store)
        report = index.sync()
        searcher = Searcher(index.load())
        print(f"  genlab {store}: {report.chunks} chunks indexed in {time.perf_counter() - began:.1f} s", file=sys.stderr)
        chunks = [(c.source, c.text, c.section) for c in searcher.version.chunks]
        for name, mode, fusion in MODES:
            ranked = []
            for row, vector in zip(rows, vectors, strict=False):
                hits = searcher.search(row["question"], k=K, mode=mode, query_vector=vector, fusion=fusion)
                ranked.append([(h.chunk.source, h.chunk.text, h.chunk.section) for h in hits])
            results.append(
                {
                    "method": f"genlab {name}",
                    "store": store,
                    "chunks": len(chunks),
                    "reachable": reachable(rows, chunks),
                    **score(rows, ranked),
                }
            )
    return results


# --- the LangChain recipe ---------------------------------------------------------------------


def baseline_documents() -> list[Any]:
    """The bundled documents split the usual way: 1000 characters, 200 overlap."""
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    documents = [
        Document(page_content=p.read_text(encoding="utf-8"), metadata={"source": p.name}) for p in sorted(CORPUS.glob("*.md"))
    ]
    return splitter.split_documents(documents)


def baseline_embeddings() -> Any:
    from langchain_huggingface import HuggingFaceEmbeddings

    from genlab.settings import get_settings

    folder = get_settings().model_for("embedding")
    return HuggingFaceEmbeddings(model_name=str(folder), encode_kwargs={"normalize_embeddings": True})


def baseline_rows(rows: list[dict[str, str]], stores: list[str], workdir: Path) -> list[dict[str, Any]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # langchain_community's sunset notice
        from langchain_community.vectorstores import FAISS

    docs = baseline_documents()
    embeddings = baseline_embeddings()
    chunks = [(d.metadata["source"], d.page_content) for d in docs]
    builders: dict[str, Callable[[], Any]] = {"faiss": lambda: FAISS.from_documents(docs, embeddings)}
    if "chroma" in stores:
        import chromadb
        from langchain_chroma import Chroma

        builders["chroma"] = lambda: Chroma.from_documents(
            docs,
            embeddings,
            collection_name="baseline",
            client=chromadb.PersistentClient(
                path=str(workdir / "baseline-chroma"), settings=chromadb.Settings(anonymized_telemetry=False)
            ),
            collection_metadata={"hnsw:space": "cosine"},
        )
    results = []
    for store in stores:
        began = time.perf_counter()
        vectorstore = builders[store]()
        print(f"  baseline {store}: {len(docs)} chunks indexed in {time.perf_counter() - began:.1f} s", file=sys.stderr)
        ranked = [
            [(d.metadata["source"], d.page_content) for d in vectorstore.similarity_search(row["question"], k=K)] for row in rows
        ]
        results.append(
            {
                "method": "langchain recipe",
                "store": store,
                "chunks": len(docs),
                "reachable": reachable(rows, chunks),
                **score(rows, ranked),
            }
        )
    return results


# --- report -----------------------------------------------------------------------------------


def print_table(results: list[dict[str, Any]]) -> None:
    print(f"{'method':<18} {'store':<7} {'chunks':>6} {'reachable':>9} {'hit@1':>6} {'hit@4':>6} {'MRR':>6}")
    for r in results:
        print(
            f"{r['method']:<18} {r['store']:<7} {r['chunks']:>6} {r['reachable']:>9.3f} {r['hit@1']:>6.3f} {r['hit@4']:>6.3f} {r['mrr']:>6.3f}"
        )


def print_by_kind(rows: list[dict[str, str]], results: list[dict[str, Any]]) -> None:
    """hit@4 / MRR per question kind (paraphrase, keyword, plain) for the FAISS rows."""
    kinds = sorted({row.get("kind", "-") for row in rows})
    counts = {kind: sum(row.get("kind", "-") == kind for row in rows) for kind in kinds}
    header = "".join(f"  {kind + f' ({counts[kind]})':>22}" for kind in kinds)
    print(f"\n{'hit@4 / MRR by kind':<26}{header}")
    for r in results:
        if r["store"] != "faiss":
            continue
        cells = []
        for kind in kinds:
            ranks = [rank for row, rank in zip(rows, r["ranks"], strict=False) if row.get("kind", "-") == kind]
            cells.append(
                f"{sum(x is not None for x in ranks) / len(ranks):.3f} / {sum(1 / x for x in ranks if x) / len(ranks):.3f}"
            )
        print(f"{r['method']:<26}" + "".join(f"  {c:>22}" for c in cells))


def print_misses(rows: list[dict[str, str]], results: list[dict[str, Any]]) -> None:
    print("\nquestions not answered at rank 1 (rank in the top 4, '-' = not found):")
    names = [f"{r['method'].removeprefix('genlab ').replace('langchain ', '')}/{r['store']}" for r in results]
    print("  " + " ".join(f"{n[:14]:>14}" for n in names))
    for i, row in enumerate(rows):
        ranks = [r["ranks"][i] for r in results]
        if all(rank == 1 for rank in ranks):
            continue
        print("  " + " ".join(f"{(str(x) if x else '-'):>14}" for x in ranks) + f"  {row['question']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--set", default="dev", choices=[*sorted(SETS), "blind"], help="the question set: dev (tuned on), heldout or blind"
    )
    parser.add_argument("--stores", default="faiss,chroma", help="comma-separated: faiss,chroma")
    parser.add_argument("--misses", action="store_true", help="list the questions some method did not answer at rank 1")
    args = parser.parse_args()
    stores = [s for s in args.stores.split(",") if s]
    if not stores or set(stores) - {"faiss", "chroma"}:
        parser.error("--stores takes faiss, chroma or both")

    rows = load_devset(BLIND if args.set == "blind" else SETS[args.set])
    with tempfile.TemporaryDirectory(prefix="genlab-bench-") as tmp:
        # Before genlab reads its settings: the benchmark's indexes live and die in tmp.
        for name in [n for n in os.environ if n.startswith("GENLAB_")]:
            del os.environ[name]
        os.environ["GENLAB_HOME"] = tmp
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from genlab.settings import get_settings

        get_settings.cache_clear()
        began = time.perf_counter()
        results = genlab_rows(rows, stores) + baseline_rows(rows, stores, Path(tmp))
        print(f"  measured in {time.perf_counter() - began:.1f} s", file=sys.stderr)

    print(f"{args.set} set: {len(rows)} questions over {len({r['source'] for r in rows})} documents; top {K}")
    print_table(results)
    print_by_kind(rows, results)
    if args.misses:
        print_misses(rows, results)
    hybrid = [r for r in results if r["method"] == "genlab hybrid"]
    summary = {
        "set": args.set,
        "questions": len(rows),
        "k": K,
        "results": [{k: v for k, v in r.items() if k != "ranks"} for r in results],
        "target_met": all(r["hit@4"] >= 0.95 and r["mrr"] >= 0.85 for r in hybrid),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
