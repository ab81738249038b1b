"""Loading functions, one per kind of model the package uses.

Each loader imports its library inside the function: ``import genlab`` stays light and a
user who never draws an image never pays for importing diffusers.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genlab.errors import ModelUnavailableError
from genlab.logs import quiet_diffusers
from genlab.models.sources import is_gguf, read_json

#: Kinds of loaded object; the runtime shares one object per (kind, model, device, dtype).
KINDS = ("text-generation", "seq2seq", "zero-shot-classification", "text-to-image", "text-to-audio", "embedding")

_ROLE_NEEDS = {
    "text": "a causal language model (e.g. Qwen/Qwen2.5-1.5B-Instruct)",
    "chat": "a causal instruct model with a chat template (e.g. Qwen/Qwen2.5-1.5B-Instruct)",
    "few_shot": "a causal language model (e.g. Qwen/Qwen2.5-1.5B-Instruct)",
    "summary": "a seq2seq model such as google-t5/t5-small, or a causal instruct model",
    "zero_shot": "an NLI classifier with an 'entailment' label (e.g. cross-encoder/nli-deberta-v3-small)",
    "image": "a diffusers text-to-image pipeline (e.g. stable-diffusion-v1-5/stable-diffusion-v1-5)",
    "music": "a MusicGen model (e.g. facebook/musicgen-small)",
    "embedding": "a sentence-transformers or transformers encoder (e.g. all-MiniLM-L6-v2)",
}


def role_needs(role: str) -> str:
    """What a model for ``role`` must be, in words with an example."""
    return _ROLE_NEEDS.get(role, "a model of the right kind for this role")


def _wrong_kind(role: str, source: str, found: str) -> ModelUnavailableError:
    return ModelUnavailableError(
        role,
        source,
        f"wrong kind of model for this role: found {found}, need {_ROLE_NEEDS[role]}",
        want=_ROLE_NEEDS[role],
    )


def _is_causal(config: dict[str, Any]) -> bool:
    return any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in config.get("architectures") or [])


def detect_kind(role: str, source: str) -> str:
    """Check that ``source`` suits ``role`` from its config files, and return the kind to load.

    Raises:
        ModelUnavailableError: The model is of the wrong kind, or its files cannot be read.
    """
    if is_gguf(source):
        # transformers reads GGUF files of causal language models only (llama, qwen2, ...).
        if role not in ("text", "chat", "few_shot", "summary"):
            return _raise(_wrong_kind(role, source, "a GGUF file (a causal language model)"))
        return "text-generation"
    if role == "image":
        index = read_json(source, "model_index.json", role)
        if index is None or "Pipeline" not in str(index.get("_class_name", "")):
            return _raise(_wrong_kind(role, source, "no diffusers model_index.json"))
        if "unet" not in index and "transformer" not in index:
            return _raise(_wrong_kind(role, source, f"the diffusers pipeline {index['_class_name']}"))
        return "text-to-image"
    config = read_json(source, "config.json", role)
    if config is None:
        found = "a diffusers pipeline" if read_json(source, "model_index.json", role) else "no config.json"
        return _raise(_wrong_kind(role, source, found))
    arch = ", ".join(config.get("architectures") or []) or config.get("model_type", "unknown")
    if role == "embedding":
        return "embedding"
    if role == "music":
        if config.get("model_type") not in {"musicgen", "musicgen_melody"}:
            return _raise(_wrong_kind(role, source, arch))
        return "text-to-audio"
    if role == "zero_shot":
        labels = {str(k).lower() for k in (config.get("label2id") or {})}
        if "entailment" not in labels:
            return _raise(_wrong_kind(role, source, f"{arch} without an 'entailment' label"))
        return "zero-shot-classification"
    if role == "summary" and config.get("is_encoder_decoder"):
        return "seq2seq"
    if _is_causal(config):
        return "text-generation"
    return _raise(_wrong_kind(role, source, arch))


def _raise(error: Exception) -> str:
    raise error


def load_text_generation(source: str, device: str, dtype: Any, trust_remote_code: bool) -> Any:
    from transformers import pipeline

    if is_gguf(source):
        pipe = _load_gguf(source, device, dtype, trust_remote_code)
    else:
        pipe = pipeline("text-generation", model=source, device=device, dtype=dtype, trust_remote_code=trust_remote_code)
    tokenizer = pipe.tokenizer
    # Batched generation with a decoder-only model must pad on the left, or the new tokens
    # of shorter prompts would follow pad tokens.
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return pipe


def _load_gguf(source: str, device: str, dtype: Any, trust_remote_code: bool) -> Any:
    """A text-generation pipeline over a GGUF file, dequantized by transformers (``gguf_file=``)."""

    from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline

    try:
        import gguf  # noqa: F401 - transformers needs it to read the file
    except ImportError as exc:
        why = "reading GGUF files needs the gguf package"
        raise ModelUnavailableError("text", source, why, fixes="pip install gguf") from exc
    path = Path(source)
    folder, name = str(path.parent), path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name, trust_remote_code=trust_remote_code)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=dtype, trust_remote_code=trust_remote_code)
    return pipeline("text-generation", model=model, tokenizer=tokenizer, device=device)


def load_seq2seq(source: str, device: str, dtype: Any, trust_remote_code: bool) -> Any:
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from genlab.models.seq2seq import Seq2SeqPipeline  # imports torch

    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
    model = AutoModelForSeq2SeqLM.from_pretrained(source, dtype=dtype, trust_remote_code=trust_remote_code)
    return Seq2SeqPipeline(model=model, tokenizer=tokenizer, device=device)  # type: ignore[arg-type]  # transformers types tokenizer as PythonBackend only, device without str; both work


def load_zero_shot(source: str, device: str, dtype: Any, trust_remote_code: bool) -> Any:
    from transformers import pipeline

    return pipeline("zero-shot-classification", model=source, device=device, dtype=dtype, trust_remote_code=trust_remote_code)


def load_text_to_audio(source: str, device: str, dtype: Any, trust_remote_code: bool) -> Any:
    from transformers import pipeline

    return pipeline("text-to-audio", model=source, device=device, dtype=dtype, trust_remote_code=trust_remote_code)


#: Model kinds whose library is an extra of genlab, not a dependency: kind -> (module, extra).
#: ``pip install genlab`` alone does not draw; diffusers is the ``image`` extra.
EXTRA_LIBRARIES = {"text-to-image": ("diffusers", "image")}


def missing_library(role: str, kind: str, source: str) -> ModelUnavailableError | None:
    """The error for a model of ``kind`` whose library (an extra) is not installed; None when it is."""
    if kind not in EXTRA_LIBRARIES:
        return None
    module, extra = EXTRA_LIBRARIES[kind]
    try:
        if importlib.util.find_spec(module) is not None:
            return None
    except (ImportError, ValueError):  # a module that failed to import, or was removed from sys.modules
        pass
    return _not_installed(role, module, extra, source)


def _not_installed(role: str, module: str, extra: str, source: str) -> ModelUnavailableError:
    return ModelUnavailableError(role, source, f"the {module} library is not installed", fixes=f'pip install "genlab[{extra}]"')


def load_text_to_image(source: str, device: str, dtype: Any, trust_remote_code: bool) -> Any:
    try:
        from diffusers import AutoPipelineForText2Image
    except ImportError:
        raise _not_installed("image", "diffusers", "image", source) from None

    quiet_diffusers()
    pipe = AutoPipelineForText2Image.from_pretrained(source, dtype=dtype, trust_remote_code=trust_remote_code)
    pipe = pipe.to(device)
    pipe.set_progress_bar_config(disable=True)  # genlab shows its own progress
    return pipe


def load_embedding(source: str, device: str, dtype: Any, trust_remote_code: bool) -> Any:
    from genlab.models.bert_encoder import BertSentenceEncoder, is_supported  # imports torch

    if not trust_remote_code and is_supported(source):
        # The same numbers as sentence-transformers without its 5 s import (see bert_encoder).
        return BertSentenceEncoder(source, device=device, dtype=dtype)
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(source, device=device, trust_remote_code=trust_remote_code)


LOADERS: dict[str, Callable[[str, str, Any, bool], Any]] = {
    "text-generation": load_text_generation,
    "seq2seq": load_seq2seq,
    "zero-shot-classification": load_zero_shot,
    "text-to-image": load_text_to_image,
    "text-to-audio": load_text_to_audio,
    "embedding": load_embedding,
}


def module_bytes(obj: Any) -> int:
    """Return the bytes of parameters and buffers held by a loaded pipeline or model."""
    import torch

    modules: list[torch.nn.Module] = []
    if isinstance(obj, torch.nn.Module):
        modules.append(obj)
    model = getattr(obj, "model", None)
    if isinstance(model, torch.nn.Module):
        modules.append(model)
    components = getattr(obj, "components", None)
    if isinstance(components, dict):
        modules.extend(c for c in components.values() if isinstance(c, torch.nn.Module))
    seen: set[int] = set()
    total = 0
    for module in modules:
        for tensor in [*module.parameters(), *module.buffers()]:
            if id(tensor) not in seen:
                seen.add(id(tensor))
                total += tensor.numel() * tensor.element_size()
    return total
