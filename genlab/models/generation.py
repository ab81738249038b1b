"""Generation over a local transformers model: tensor batches, stop sequences, how each ended.

The LangChain wrappers (:mod:`genlab.models.llm`, :mod:`genlab.models.chat`) call
:func:`generate` (and :func:`genlab.models.streaming.stream_text`) with a loaded ``model``
and ``tokenizer``. It checks each prompt on its own, runs one ``model.generate`` per chunk
of ``batch_size`` prompts (left padded), slices the prompt tokens off, cuts each text at its
first stop sequence and says how it ended (:class:`GenerationInfo`).

Stop sequences are checked on the decoded *new* text, so a stop of any length, one that
straddles tokens, or one that the prompt happens to end with a part of, all behave the same.
transformers' own ``stop_strings`` is not used for that last reason: it matches on the last
tokens of the whole sequence, prompt included, so a prompt ending in ``"\\n"`` with the stop
``"\\n\\n"`` stops after one new newline.

Torch and transformers are imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel

from genlab.errors import InvalidInputError, PromptTooLongError
from genlab.models.sampling import sampling_settings, seeded_sampler

#: Generation settings accepted by ``load_llm`` / ``load_chat_model`` and per call.
GENERATION_KEYS = ("max_new_tokens", "temperature", "top_p", "top_k", "do_sample", "repetition_penalty", "seed")

DEFAULT_MAX_NEW_TOKENS = 256


def check_generation(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Validate generation settings and turn them into ``model.generate`` keyword arguments.

    ``None`` means "not set": the model's own ``generation_config`` decides. Sampling is
    switched on when a positive ``temperature`` is given and ``do_sample`` is not;
    ``temperature=0`` means greedy decoding.

    Args:
        settings: Any of :data:`GENERATION_KEYS` (others are refused).

    Returns:
        The keyword arguments for ``generate``, plus ``"seed"`` when one is set.

    Raises:
        InvalidInputError: An unknown key or a value out of range; the message says what is allowed.
    """
    unknown = sorted(set(settings) - set(GENERATION_KEYS))
    if unknown:
        raise InvalidInputError(
            f"unknown generation setting(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(GENERATION_KEYS)}"
        )
    values = {k: v for k, v in settings.items() if v is not None}
    _check_number(values, "max_new_tokens", int, low=1, rule="an integer >= 1")
    _check_number(values, "temperature", float, low=0.0, rule="a number >= 0")
    _check_number(values, "top_p", float, low=0.0, high=1.0, low_open=True, rule="a number in (0, 1]")
    _check_number(values, "top_k", int, low=0, rule="an integer >= 0")
    _check_number(values, "repetition_penalty", float, low=0.0, low_open=True, rule="a number > 0")
    _check_number(values, "seed", int, low=0, rule="an integer >= 0")
    if "do_sample" in values and not isinstance(values["do_sample"], bool):
        raise InvalidInputError(f"do_sample must be true or false, got {values['do_sample']!r}")
    temperature = values.get("temperature")
    if temperature == 0:
        # LangChain users write temperature=0 for greedy output; transformers refuses 0.
        del values["temperature"]
        if values.get("do_sample"):
            raise InvalidInputError("temperature=0 means greedy decoding; it cannot be combined with do_sample=True")
        values["do_sample"] = False
    elif temperature is not None and "do_sample" not in values:
        values["do_sample"] = True
    if values.get("do_sample") is False:
        # Sampling settings have no effect when decoding greedily; transformers warns about them.
        for key in ("temperature", "top_p", "top_k"):
            values.pop(key, None)
    return values


def _check_number(
    values: dict[str, Any],
    key: str,
    kind: type,
    *,
    rule: str,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> None:
    if key not in values:
        return
    value = values[key]
    ok_type = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        ok_type = isinstance(value, int) and not isinstance(value, bool)
    if not ok_type:
        raise InvalidInputError(f"{key} must be {rule}, got {value!r}")
    too_low = low is not None and (value <= low if low_open else value < low)
    if too_low or (high is not None and value > high):
        raise InvalidInputError(f"{key} must be {rule}, got {value!r}")


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """Return ``text`` up to its earliest stop sequence, and whether one was found."""
    positions = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    if not positions:
        return text, False
    return text[: min(positions)], True


def partial_stop_length(text: str, stops: Sequence[str]) -> int:
    """Length of the longest tail of ``text`` that is a proper prefix of a stop sequence.

    A stream must hold that tail back: the next token may complete the stop.
    """
    best = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), best, -1):
            if text.endswith(stop[:size]):
                best = size
                break
    return best


def skipped_token_ids(tokenizer: Any, keep: Collection[str] = ()) -> set[int]:
    """Ids of special tokens to drop before decoding, except the tokens named in ``keep``.

    The chat model keeps tool-call markers such as ``<tool_call>``: some tokenizers register
    them as special tokens, and ``skip_special_tokens=True`` would erase them.
    """
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    for token_id, token in (getattr(tokenizer, "added_tokens_decoder", None) or {}).items():
        if getattr(token, "special", False):
            special.add(int(token_id))
    kept = set()
    for token in keep:
        token_id = tokenizer.convert_tokens_to_ids(token)
        # A token missing from the vocabulary maps to the unknown token: keep nothing then.
        if isinstance(token_id, int) and tokenizer.convert_ids_to_tokens(token_id) == token:
            kept.add(token_id)
    return special - kept


class _Decoder:
    """Decodes new tokens for stop matching, and turns the matched text into the shown text.

    Special tokens are dropped from the text, except those in ``keep`` and those a stop
    sequence names (``<|im_start|>``): those are kept while matching, so that such a stop
    can match at all, and removed from what is returned.
    """

    def __init__(self, tokenizer: Any, keep: Collection[str], stops: Sequence[str]) -> None:
        self.tokenizer = tokenizer
        skip = skipped_token_ids(tokenizer, keep)
        named = {t for t in skip if any(str(tokenizer.convert_ids_to_tokens(t)) in s for s in stops)}
        self.skip = skip - named
        self.hidden = sorted({str(tokenizer.convert_ids_to_tokens(t)) for t in named}, key=len, reverse=True)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode([t for t in ids if t not in self.skip], skip_special_tokens=False)

    def shown(self, text: str) -> str:
        for token in self.hidden:
            text = text.replace(token, "")
        return text


def encode_prompts(model: Any, tokenizer: Any, prompts: Sequence[str], add_special_tokens: bool) -> dict[str, Any]:
    """Tokenize a chunk of prompts into one padded tensor batch on the model's device."""
    encoder_decoder = bool(getattr(model.config, "is_encoder_decoder", False))
    batch = tokenizer(
        list(prompts),
        return_tensors="pt",
        padding=True,
        add_special_tokens=add_special_tokens,
        # Decoder-only models continue from the last position: pad on the left so every
        # prompt ends where generation starts (whatever the tokenizer's default side).
        padding_side="right" if encoder_decoder else "left",
    )
    return {k: v.to(model.device) for k, v in batch.items()}


def _ensure_pad_token(tokenizer: Any) -> None:
    if tokenizer.pad_token_id is None:
        # Batches need a pad token; the end-of-sequence token is the usual stand-in.
        tokenizer.pad_token = tokenizer.eos_token


def plan_rows(
    model: Any, tokenizer: Any, prompts: Sequence[str], requested: int | None, add_special_tokens: bool
) -> list[tuple[int, int] | InvalidInputError]:
    """Check each prompt on its own: ``(prompt tokens, new tokens to allow)`` or its error.

    A prompt that is empty, or too long for the model's context with the new tokens the call
    asks for, fails alone; the others of its batch still run. Without an explicit
    ``max_new_tokens`` the call gets :data:`DEFAULT_MAX_NEW_TOKENS` or what room the
    context leaves, whichever is less: a short prompt is never refused for the default.
    """
    encoder_decoder = bool(getattr(model.config, "is_encoder_decoder", False))
    context = None if encoder_decoder else _context_length(model)
    ids = tokenizer(list(prompts), add_special_tokens=add_special_tokens)["input_ids"]
    rows: list[tuple[int, int] | InvalidInputError] = []
    for row in ids:
        length = len(row)
        if length == 0:
            rows.append(InvalidInputError("a prompt is empty; pass some text to generate from"))
        elif context is None:
            rows.append((length, requested or DEFAULT_MAX_NEW_TOKENS))
        elif requested is not None and length + requested > context:
            rows.append(
                PromptTooLongError(
                    f"the prompt is {length} tokens; with max_new_tokens={requested} it exceeds "
                    f"the model's context of {context} tokens: shorten the prompt or lower max_new_tokens",
                    prompt_tokens=length,
                    new_tokens=requested,
                    context=context,
                )
            )
        elif requested is None and length >= context:
            rows.append(
                PromptTooLongError(
                    f"the prompt is {length} tokens, the model's whole context is {context}: shorten the prompt",
                    prompt_tokens=length,
                    new_tokens=0,
                    context=context,
                )
            )
        else:
            rows.append((length, requested or min(DEFAULT_MAX_NEW_TOKENS, context - length)))
    return rows


def _context_length(model: Any) -> int | None:
    config = model.config
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _stop_criteria(
    tokenizer: Any, stops: Sequence[str], prompt_length: int, skip: set[int], cancel: threading.Event | None
) -> Any:
    """A ``StoppingCriteriaList`` for the stop sequences (and a cancel event), or ``None``."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    criteria: list[Any] = []
    if stops:
        # Each new token adds at least one byte, so a stop that has just been completed lies
        # within the last (bytes of the longest stop + a margin) tokens: decode only those.
        window = max(len(s.encode("utf-8")) for s in stops) + 4

        class StopSequences(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                new = input_ids[:, prompt_length:].tolist()
                done = []
                for row in new:
                    kept = [t for t in row if t not in skip][-window:]
                    text = tokenizer.decode(kept, skip_special_tokens=False)
                    done.append(any(s in text for s in stops))
                return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

        criteria.append(StopSequences())
    if cancel is not None:
        event = cancel  # narrowed to Event for the class below

        class Cancelled(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full((input_ids.shape[0],), event.is_set(), dtype=torch.bool, device=input_ids.device)

        criteria.append(Cancelled())
    return StoppingCriteriaList(criteria) if criteria else None


_MODEL_LOCKS: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_MODEL_LOCKS_GUARD = threading.Lock()


def model_lock(model: Any) -> threading.Lock:
    """One lock per model: its ``generate`` calls run one at a time.

    One model's calls compete for the same cores or GPU anyway, and ``batch`` is the way to
    run many prompts at once; running them in turn keeps memory use to one call's.
    (Seeded sampling needs no lock: each call draws from generators of its own, see
    :mod:`genlab.models.sampling`.)
    """
    with _MODEL_LOCKS_GUARD:
        lock = _MODEL_LOCKS.get(model)
        if lock is None:
            lock = _MODEL_LOCKS[model] = threading.Lock()
        return lock


class GenerationInfo(BaseModel):
    """How one generation ended, and what it cost."""

    finish_reason: Literal["stop", "length"]
    """``length`` when the text was cut at ``max_new_tokens``; ``stop`` when the model ended
    its answer or a stop sequence was reached."""
    input_tokens: int
    """Tokens of the prompt."""
    output_tokens: int
    """Tokens generated (up to and including the end-of-sequence token)."""


class Generated(BaseModel):
    """One prompt's new text and its :class:`GenerationInfo`."""

    text: str
    info: GenerationInfo


class GenerationCall:
    """The ``generate`` arguments of one call: settings, seeded sampling, stops, decoding."""

    def __init__(
        self, model: Any, tokenizer: Any, settings: Mapping[str, Any], stop: Sequence[str], keep_special: Collection[str]
    ) -> None:
        _ensure_pad_token(tokenizer)
        self.model = model
        self.kwargs = check_generation(settings)
        self.seed = self.kwargs.pop("seed", None)
        self.requested = self.kwargs.pop("max_new_tokens", None)
        self.sampling = sampling_settings(model, self.kwargs) if self.seed is not None else None
        self.kwargs["pad_token_id"] = tokenizer.pad_token_id
        self.stops = [s for s in stop if s]
        self.decoder = _Decoder(tokenizer, keep_special, self.stops)
        self.tokenizer = tokenizer
        config_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
        eos = config_eos if isinstance(config_eos, list) else [config_eos]
        self.eos = {t for t in [*eos, tokenizer.eos_token_id] if isinstance(t, int)}

    def generate_kwargs(self, rows: int, max_new_tokens: int, prompt_length: int, cancel: Any = None) -> dict[str, Any]:
        from transformers import LogitsProcessorList

        kwargs = {**self.kwargs, "max_new_tokens": max_new_tokens}
        kwargs["stopping_criteria"] = _stop_criteria(self.tokenizer, self.stops, prompt_length, self.decoder.skip, cancel)
        if self.sampling is not None:
            sampler = seeded_sampler(self.seed, rows, self.model.device, self.sampling)
            kwargs["logits_processor"] = LogitsProcessorList([sampler])
        return kwargs

    def finish(self, ids: Sequence[int], prompt_tokens: int, max_new_tokens: int) -> Generated:
        """Cut one row's new ids at the end of its answer and its first stop sequence."""
        ended = next((i for i, t in enumerate(ids) if t in self.eos or t == self.kwargs["pad_token_id"]), None)
        kept = list(ids if ended is None else ids[:ended])
        text, stopped = cut_at_stop(self.decoder.decode(kept), self.stops)
        saw_eos = ended is not None and ids[ended] in self.eos
        reason: Literal["stop", "length"] = "stop" if stopped or saw_eos or len(kept) < max_new_tokens else "length"
        info = GenerationInfo(finish_reason=reason, input_tokens=prompt_tokens, output_tokens=len(kept) + int(saw_eos))
        return Generated(text=self.decoder.shown(text), info=info)


def generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    settings: Mapping[str, Any],
    *,
    stop: Sequence[str] = (),
    batch_size: int = 8,
    add_special_tokens: bool = True,
    keep_special: Collection[str] = (),
) -> list[Generated | InvalidInputError]:
    """Generate a continuation for each prompt, in tensor batches.

    Each prompt is checked on its own (:func:`plan_rows`): one that is empty or too long
    gets its error in its place and the others still run. A seeded call samples each row
    from a generator of its own: a row's text does not depend on the rest of its batch.

    Args:
        model: A transformers model with ``generate`` (decoder-only or encoder-decoder).
        tokenizer: Its tokenizer; it needs a pad token or an end-of-sequence token.
        prompts: The prompts, in order.
        settings: Generation settings (see :func:`check_generation`).
        stop: Stop sequences: generation of a text ends once one appears, and the text is cut
            before it. A stop may be a special token (``<|im_start|>``).
        batch_size: Prompts per ``generate`` call.
        add_special_tokens: Whether the tokenizer adds its special tokens (``False`` for
            prompts rendered by a chat template, which already contain them).
        keep_special: Special tokens to keep in the decoded text.

    Returns:
        For each prompt, in order, its new text with how it ended, or its error.

    Raises:
        InvalidInputError: A bad setting (for the whole call).
    """
    import torch

    if batch_size < 1:
        raise InvalidInputError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    call = GenerationCall(model, tokenizer, settings, stop, keep_special)
    rows = plan_rows(model, tokenizer, prompts, call.requested, add_special_tokens)
    results: list[Any] = [r if isinstance(r, InvalidInputError) else None for r in rows]
    ready = [i for i, r in enumerate(rows) if not isinstance(r, InvalidInputError)]
    encoder_decoder = bool(getattr(model.config, "is_encoder_decoder", False))
    for start in range(0, len(ready), batch_size):
        chunk = ready[start : start + batch_size]
        inputs = encode_prompts(model, tokenizer, [prompts[i] for i in chunk], add_special_tokens)
        new_tokens = min(rows[i][1] for i in chunk)  # type: ignore[index]
        prompt_length = 0 if encoder_decoder else inputs["input_ids"].shape[1]
        kwargs = call.generate_kwargs(len(chunk), new_tokens, prompt_length)
        with model_lock(model), torch.inference_mode():
            output = model.generate(**inputs, **kwargs)
        new = output[:, prompt_length:]
        if encoder_decoder:
            new = new[:, 1:]  # the decoder's start token
        for i, row in zip(chunk, new.tolist(), strict=True):
            results[i] = call.finish(row, rows[i][0], new_tokens)  # type: ignore[index]
    return results


def generate_texts(model: Any, tokenizer: Any, prompts: Sequence[str], settings: Mapping[str, Any], **options: Any) -> list[str]:
    """:func:`generate`, texts only; the first failed prompt's error is raised."""
    results = generate(model, tokenizer, prompts, settings, **options)
    for result in results:
        if isinstance(result, InvalidInputError):
            raise result
    return [r.text for r in results]  # type: ignore[union-attr]
