"""The keyword (BM25) index of one index version, saved inside it with ``bm25s``.

``rank-bm25`` rebuilt its index in every process and scored every chunk in Python: 40 ms a
query at 13,600 chunks. ``bm25s`` precomputes the scores into a sparse matrix, saves it as
``.npy`` / JSON files (read with ``allow_pickle=False``) and answers in well under a
millisecond there (benchmarks/retrieval_speed.py). Tokens are genlab's own
(:func:`genlab.retrieval.text.tokenize`); a version records a fingerprint of the tokenizer
module, and an index made with another tokenizer is rebuilt from the chunks instead of used.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from genlab.retrieval import text as _text
from genlab.retrieval.text import tokenize

#: bm25s writes these files; a version's ``keyword/`` folder must hold them all.
FILES = ("data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy", "vocab.index.json", "params.index.json")


def tokenizer_fingerprint() -> str:
    """Changes whenever the tokenizer's module does (its tokens are what the index holds)."""
    return hashlib.sha256(Path(_text.__file__).read_bytes()).hexdigest()[:16]


class KeywordIndex:
    """BM25 scores (Lucene's variant, k1 = 1.5, b = 0.75) over a version's chunks."""

    def __init__(self, bm25: Any, size: int) -> None:
        self._bm25 = bm25
        self.size = size
        """How many chunks it indexes."""

    @classmethod
    def build(cls, texts: list[str]) -> KeywordIndex:
        """Index ``texts`` (the chunks' ``context_text``, in index order)."""
        import bm25s

        bm25 = bm25s.BM25(k1=1.5, b=0.75)
        tokens = [tokenize(t) for t in texts]
        if texts:
            bm25.index(tokens, show_progress=False)
        return cls(bm25 if texts else None, len(texts))

    def save(self, folder: Path) -> None:
        """Write the index's files into ``folder`` (created)."""
        folder.mkdir(parents=True, exist_ok=True)
        if self._bm25 is None:
            return
        self._bm25.save(str(folder), show_progress=False, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path, size: int) -> KeywordIndex:
        """Read an index saved by :meth:`save` for ``size`` chunks.

        Raises:
            ValueError: The files are missing, damaged, or index another number of chunks.
        """
        if size == 0:
            return cls(None, 0)
        missing = [name for name in FILES if not (folder / name).is_file()]
        if missing:
            raise ValueError(f"the keyword index lacks {', '.join(missing)}")
        import bm25s

        try:
            bm25 = bm25s.BM25.load(str(folder), show_progress=False, allow_pickle=False, mmap=False)
        except (OSError, KeyError, TypeError, IndexError) as exc:
            raise ValueError(f"the keyword index is damaged ({exc})") from exc
        documents = int(bm25.scores["num_docs"])
        if documents != size:
            raise ValueError(f"the keyword index holds {documents} chunks, not {size}")
        return cls(bm25, size)

    def top(self, query: str, n: int) -> list[tuple[int, float]]:
        """(chunk position, score) of the ``n`` best chunks with a score above 0."""
        words = tokenize(query)
        if self._bm25 is None or not words:
            return []
        scores = self._bm25.get_scores(words)
        n = min(n, len(scores))
        order = np.argpartition(-scores, n - 1)[:n]
        order = order[np.lexsort((order, -scores[order]))]  # ties: index order, deterministic
        return [(int(i), float(scores[i])) for i in order if scores[i] > 0]
