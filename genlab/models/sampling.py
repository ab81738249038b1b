"""Seeded sampling that belongs to one call, and next-token probabilities of a few answers.

**Seeded sampling.** transformers samples with ``torch.multinomial`` on torch's process-wide
generator, so a seeded call was not reproducible while another model sampled on another
thread, and a row's text depended on the other rows of its batch (they draw from the same
stream). :class:`SeededSampler` is a logits processor that draws each row's token from a
``torch.Generator`` of that row, seeded with the call's seed, and leaves only that token
possible; ``generate`` then runs greedily and keeps it. The same seed, prompt and settings
give the same text alone, in any batch and under concurrent sampling elsewhere.

**Answer probabilities.** :func:`answer_probabilities` reads the model's next-token
distribution once and sums it over the tokens that start each answer ("Yes", " yes"...):
a verdict from a single forward pass, with a confidence, that cannot ramble.

Torch and transformers are imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: transformers' own defaults when neither the call nor the model's generation_config sets them.
_SAMPLING_DEFAULTS = {"temperature": 1.0, "top_k": 50, "top_p": 1.0}


def sampling_settings(model: Any, kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """Pop the sampling settings out of ``generate`` kwargs when this call samples.

    Returns ``{"temperature", "top_k", "top_p"}`` (the call's, else the model's
    ``generation_config``, else transformers' defaults), or ``None`` when the call decodes
    greedily; ``kwargs`` is then switched to greedy decoding for :class:`SeededSampler`.
    """
    config = getattr(model, "generation_config", None)
    do_sample = kwargs.get("do_sample", getattr(config, "do_sample", False))
    if not do_sample:
        return None
    settings = {}
    for key, default in _SAMPLING_DEFAULTS.items():
        value = kwargs.pop(key, None)
        if value is None:
            value = getattr(config, key, None)
        settings[key] = default if value is None else value
    kwargs["do_sample"] = False
    return settings


def seeded_sampler(seed: int, rows: int, device: Any, settings: Mapping[str, Any]) -> Any:
    """A :class:`SeededSampler` for ``rows`` rows (see the module docstring)."""
    import torch
    from transformers import LogitsProcessor, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    warpers: list[Any] = []
    if settings["temperature"] != 1.0:
        warpers.append(TemperatureLogitsWarper(float(settings["temperature"])))
    if settings["top_k"]:
        warpers.append(TopKLogitsWarper(int(settings["top_k"])))
    if settings["top_p"] < 1.0:
        warpers.append(TopPLogitsWarper(float(settings["top_p"])))
    generators = [torch.Generator(device=device).manual_seed(seed) for _ in range(rows)]

    class SeededSampler(LogitsProcessor):
        def __call__(self, input_ids: Any, scores: Any) -> Any:
            for warper in warpers:
                scores = warper(input_ids, scores)
            probs = torch.softmax(scores.float(), dim=-1)
            chosen = torch.stack([torch.multinomial(probs[i], 1, generator=g) for i, g in enumerate(generators)])
            only = torch.full_like(scores, float("-inf"))
            return only.scatter_(1, chosen, 0.0)

    return SeededSampler()


def answer_probabilities(
    model: Any, tokenizer: Any, prompt: str, answers: Mapping[str, Sequence[str]], *, add_special_tokens: bool = True
) -> dict[str, float]:
    """Probability that the model's next token starts each answer.

    Args:
        model: A causal language model.
        tokenizer: Its tokenizer.
        prompt: The text the answer follows (a chat prompt ends with the assistant's header).
        answers: Each answer's spellings, e.g. ``{"yes": ["Yes", " yes"], "no": ["No", " no"]}``;
            the first token of each spelling counts (a token two answers share counts for none).
        add_special_tokens: ``False`` for a prompt rendered by a chat template.

    Returns:
        ``{answer: probability}``; the rest of the mass went to other tokens.
    """
    import torch

    from genlab.models.generation import model_lock  # cycle: generation uses this module's samplers

    firsts: dict[str, set[int]] = {}
    for name, spellings in answers.items():
        firsts[name] = {ids[0] for ids in (tokenizer(s, add_special_tokens=False)["input_ids"] for s in spellings) if ids}
    shared = {t for name, ids in firsts.items() for other, more in firsts.items() if other != name for t in ids & more}
    encoded = tokenizer(prompt, return_tensors="pt", add_special_tokens=add_special_tokens)
    inputs = {k: v.to(model.device) for k, v in encoded.items()}
    with model_lock(model), torch.inference_mode():
        logits = model(**inputs).logits[0, -1]
    probs = torch.softmax(logits.float(), dim=-1)
    return {name: float(sum(probs[t] for t in ids - shared)) if ids - shared else 0.0 for name, ids in firsts.items()}
