"""A lean sentence encoder for BERT-family sentence-transformers models (all-MiniLM-L6-v2).

Why not sentence-transformers here: importing it (and the transformers model classes it
pulls in) costs 5-6 s on a 2-core laptop, several times the 20 ms a query takes, and
`genlab ask` is a short-lived process. BERT inference is a few tensor operations, so for the
common case -- a BERT encoder with mean pooling, as the default embedding model is -- this
module runs the same computation with torch, `tokenizers` and `safetensors` alone. The test
suite checks its embeddings against sentence-transformers' on the bundled model. Any other
model (other architectures, other pooling, remote code) loads with sentence-transformers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer
from torch import nn
from torch.nn import functional as F


def is_supported(folder: str | Path) -> bool:
    """Whether ``folder`` is a BERT sentence-transformers model this encoder computes exactly."""
    folder = Path(folder)
    try:
        modules = json.loads((folder / "modules.json").read_text())
        config = json.loads((folder / "config.json").read_text())
        types = [m["type"].rsplit(".", 1)[-1] for m in modules]
        pooling_dir = next(m["path"] for m in modules if m["type"].endswith("Pooling"))
        pooling = json.loads((folder / pooling_dir / "config.json").read_text())
    except (OSError, ValueError, KeyError, StopIteration):
        return False
    mean_only = pooling.get("pooling_mode_mean_tokens") and not any(
        pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens")
    )
    return (
        config.get("model_type") == "bert"
        and config.get("hidden_act") == "gelu"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and types in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"])
        and bool(mean_only)
        and (folder / "tokenizer.json").is_file()
        and (folder / "model.safetensors").is_file()
    )


class BertSentenceEncoder(nn.Module):
    """Mean-pooled BERT embeddings with the ``encode`` interface of ``SentenceTransformer``."""

    def __init__(self, folder: str | Path, device: str = "cpu", dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        from safetensors.torch import load_file

        folder = Path(folder)
        self.folder = str(folder)
        self.config = json.loads((folder / "config.json").read_text())
        settings = {}
        if (folder / "sentence_bert_config.json").is_file():
            settings = json.loads((folder / "sentence_bert_config.json").read_text())
        self.max_seq_length = int(settings.get("max_seq_length") or self.config["max_position_embeddings"])
        self.normalize = "Normalize" in (folder / "modules.json").read_text()
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_seq_length)
        self.tokenizer.enable_padding(pad_id=self.config.get("pad_token_id", 0))
        state = load_file(str(folder / "model.safetensors"))
        prefix = "bert." if any(k.startswith("bert.") for k in state) else ""
        self.weights = nn.ParameterDict(
            {
                k[len(prefix) :].replace(".", "__"): nn.Parameter(v.to(device=device, dtype=dtype), requires_grad=False)
                for k, v in state.items()
                if k.startswith(prefix) and not k.endswith("position_ids") and "pooler" not in k
            }
        )
        self.device_name = device
        self.eval()

    def _w(self, name: str) -> torch.Tensor:
        return self.weights[name.replace(".", "__")]

    def _linear(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.linear(x, self._w(f"{name}.weight"), self._w(f"{name}.bias"))

    def _norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        eps = self.config.get("layer_norm_eps", 1e-12)
        return F.layer_norm(x, x.shape[-1:], self._w(f"{name}.weight"), self._w(f"{name}.bias"), eps)

    @torch.inference_mode()
    def forward(self, ids: torch.Tensor, mask: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
        heads = self.config["num_attention_heads"]
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = (
            F.embedding(ids, self._w("embeddings.word_embeddings.weight"))
            + F.embedding(positions, self._w("embeddings.position_embeddings.weight"))[None]
            + F.embedding(types, self._w("embeddings.token_type_embeddings.weight"))
        )
        x = self._norm(x, "embeddings.LayerNorm")
        batch, length, width = x.shape
        bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for i in range(self.config["num_hidden_layers"]):
            p = f"encoder.layer.{i}."

            def split(t: torch.Tensor) -> torch.Tensor:
                return t.view(batch, length, heads, width // heads).transpose(1, 2)

            q = split(self._linear(x, p + "attention.self.query"))
            k = split(self._linear(x, p + "attention.self.key"))
            v = split(self._linear(x, p + "attention.self.value"))
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
            context = context.transpose(1, 2).reshape(batch, length, width)
            x = self._norm(x + self._linear(context, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            hidden = F.gelu(self._linear(x, p + "intermediate.dense"))
            x = self._norm(x + self._linear(hidden, p + "output.dense"), p + "output.LayerNorm")
        weights = mask[..., None].to(x.dtype)
        return (x * weights).sum(1) / weights.sum(1).clamp(min=1e-9)

    def encode(
        self,
        sentences: str | list[str],
        batch_size: int = 32,
        normalize_embeddings: bool = False,
        convert_to_numpy: bool = True,
        show_progress_bar: bool = False,
        **_: Any,
    ) -> Any:
        """Embed sentences, like ``SentenceTransformer.encode`` (numpy array, one row each)."""
        single = isinstance(sentences, str)
        texts = [sentences] if single else list(sentences)
        # Sorting by length keeps padding, and so wasted work, small within a batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        out = np.zeros((len(texts), self.config["hidden_size"]), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            encoded = self.tokenizer.encode_batch([texts[i] for i in idx])
            ids = torch.tensor([e.ids for e in encoded], device=self.device_name)
            mask = torch.tensor([e.attention_mask for e in encoded], device=self.device_name)
            types = torch.tensor([e.type_ids for e in encoded], device=self.device_name)
            vectors = self(ids, mask, types).float()
            if normalize_embeddings or self.normalize:
                vectors = F.normalize(vectors, dim=-1)
            out[idx] = vectors.cpu().numpy()
        return out[0] if single else out

    def get_sentence_embedding_dimension(self) -> int:
        return int(self.config["hidden_size"])
