"""An optional cross-encoder reranker over the fused candidates of hybrid search.

A cross-encoder reads the question and a passage together, which a bi-encoder
(all-MiniLM-L6-v2) cannot: it separates "the loss of diffusion models" from "the loss of
GANs" where their vectors are close. It is off by default: no reranker weights ship with
genlab. Set ``GENLAB_RERANKER_MODEL`` to a sentence-transformers cross-encoder (a hub id
such as ``cross-encoder/ms-marco-MiniLM-L6-v2`` once downloaded, or a folder) and every
hybrid search reranks its best :data:`POOL` fused candidates with it.
"""

from __future__ import annotations

import threading
from typing import Any

from genlab.errors import ModelUnavailableError
from genlab.settings import get_settings

#: Fused candidates the cross-encoder reads (at least; 4 x k when k is larger).
POOL = 20

_MODELS: dict[str, Any] = {}
_LOCK = threading.Lock()


def load_reranker(model: str) -> Any:
    """Return the cross-encoder of ``model`` (loaded once per process).

    Raises:
        ModelUnavailableError: It cannot be loaded (not a cross-encoder, or not on this machine).
    """
    with _LOCK:
        if model not in _MODELS:
            from sentence_transformers import CrossEncoder

            try:
                _MODELS[model] = CrossEncoder(model, device="cpu" if get_settings().device == "cpu" else None)
            except (OSError, ValueError) as exc:
                raise ModelUnavailableError(
                    "reranker",
                    model,
                    f"it cannot be loaded as a cross-encoder ({' '.join(str(exc).split())[:200]})",
                    fixes="set GENLAB_RERANKER_MODEL to a cross-encoder folder or cached hub id, or unset it",
                ) from exc
        return _MODELS[model]


def rerank(query: str, hits: list[Any], k: int, model: str) -> list[Any]:
    """Reorder ``hits`` by the cross-encoder's score of (query, passage); keep the best ``k``.

    Each returned hit carries its ``rerank_score``; its fused ``score`` is kept as it was.
    """
    if not hits:
        return []
    encoder = load_reranker(model)
    scores = encoder.predict([(query, hit.chunk.context_text) for hit in hits], show_progress_bar=False)
    for hit, value in zip(hits, scores, strict=True):
        hit.rerank_score = float(value)
    return sorted(hits, key=lambda h: -h.rerank_score)[:k]
