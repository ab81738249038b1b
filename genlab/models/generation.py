"""Generation over a local transformers model: tensor batches, stop sequences, token streaming.

The LangChain wrappers (:mod:`genlab.models.llm`, :mod:`genlab.models.chat`) call these two
functions with a loaded ``model`` and ``tokenizer``:

- :func:`generate_texts` runs one ``model.generate`` per chunk of ``batch_size`` prompts (left
  padded), slices the prompt tokens off and cuts each text at its first stop sequence.
- :func:`stream_text` runs ``model.generate`` in a thread and yields text as tokens arrive,
  never yielding a stop sequence, anything after it, or a tail that might be the start of one.

Stop sequences are checked on the decoded *new* text, so a stop of any length, one that
straddles tokens, or one that the prompt happens to end with a part of, all behave the same.
transformers' own ``stop_strings`` is not used for that last reason: it matches on the last
tokens of the whole sequence, prompt included, so a prompt ending in ``"\\n"`` with the stop
``"\\n\\n"`` stops after one new newline.

Torch and transformers are imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import weakref
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

from genlab.errors import InvalidInputError, PromptTooLongError

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


def _decode(tokenizer: Any, ids: Sequence[int], skip: set[int]) -> str:
    return tokenizer.decode([t for t in ids if t not in skip], skip_special_tokens=False)


class _Encoded:
    """A tokenized chunk of prompts, moved to the model's device."""

    def __init__(
        self, model: Any, tokenizer: Any, prompts: Sequence[str], add_special_tokens: bool, max_new_tokens: int
    ) -> None:
        encoder_decoder = bool(getattr(model.config, "is_encoder_decoder", False))
        if tokenizer.pad_token_id is None:
            # Batches need a pad token; the end-of-sequence token is the usual stand-in.
            tokenizer.pad_token = tokenizer.eos_token
        batch = tokenizer(
            list(prompts),
            return_tensors="pt",
            padding=True,
            add_special_tokens=add_special_tokens,
            # Decoder-only models continue from the last position: pad on the left so every
            # prompt ends where generation starts (whatever the tokenizer's default side).
            padding_side="right" if encoder_decoder else "left",
        )
        lengths = batch["attention_mask"].sum(dim=1).tolist()
        if min(lengths) == 0:
            raise InvalidInputError("a prompt is empty; pass some text to generate from")
        context = _context_length(model)
        if context is not None and not encoder_decoder and max(lengths) + max_new_tokens > context:
            raise PromptTooLongError(
                f"the prompt is {max(lengths)} tokens; with max_new_tokens={max_new_tokens} it exceeds "
                f"the model's context of {context} tokens: shorten the prompt or lower max_new_tokens",
                prompt_tokens=max(lengths),
                new_tokens=max_new_tokens,
                context=context,
            )
        self.inputs = {k: v.to(model.device) for k, v in batch.items()}
        self.prompt_length = 0 if encoder_decoder else batch["input_ids"].shape[1]


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
    from transformers import StoppingCriteria, StoppingCriteriaList

    import torch

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

        class Cancelled(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full((input_ids.shape[0],), cancel.is_set(), dtype=torch.bool, device=input_ids.device)

        criteria.append(Cancelled())
    return StoppingCriteriaList(criteria) if criteria else None


_MODEL_LOCKS: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_MODEL_LOCKS_GUARD = threading.Lock()


def _model_lock(model: Any) -> threading.Lock:
    """One lock per model: its ``generate`` calls run one at a time.

    Seeded sampling reseeds torch's global generator around each call; two calls on other
    threads (``BaseChatModel.batch`` runs invokes in a thread pool) would draw from each
    other's seeded streams and the same seed would stop giving the same text. Running them
    in turn costs little: one model's calls compete for the same cores or GPU anyway, and
    ``batch`` is the way to run many prompts at once.
    """
    with _MODEL_LOCKS_GUARD:
        lock = _MODEL_LOCKS.get(model)
        if lock is None:
            lock = _MODEL_LOCKS[model] = threading.Lock()
        return lock


@contextlib.contextmanager
def _seeded(seed: int | None, device: Any) -> Iterator[None]:
    """Seed torch for one ``generate`` call, then restore the previous random state.

    ``fork_rng`` keeps the caller's own random streams untouched: the same seed gives the
    same output without making the rest of the program deterministic by accident.
    """
    if seed is None:
        yield
        return
    import torch

    on_cuda = getattr(device, "type", "cpu") == "cuda"
    devices = [device.index or 0] if on_cuda else []  # the CPU state is always forked
    with torch.random.fork_rng(devices=devices, device_type="cuda" if on_cuda else None):
        torch.manual_seed(seed)
        yield


def _generate_kwargs(tokenizer: Any, settings: Mapping[str, Any]) -> tuple[dict[str, Any], int | None, int]:
    kwargs = check_generation(settings)
    seed = kwargs.pop("seed", None)
    kwargs.setdefault("max_new_tokens", DEFAULT_MAX_NEW_TOKENS)
    kwargs["pad_token_id"] = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return kwargs, seed, kwargs["max_new_tokens"]


def generate_texts(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    settings: Mapping[str, Any],
    *,
    stop: Sequence[str] = (),
    batch_size: int = 8,
    add_special_tokens: bool = True,
    keep_special: Collection[str] = (),
) -> list[str]:
    """Generate a continuation for each prompt, in tensor batches.

    Args:
        model: A transformers model with ``generate`` (decoder-only or encoder-decoder).
        tokenizer: Its tokenizer; it needs a pad token or an end-of-sequence token.
        prompts: The prompts, in order.
        settings: Generation settings (see :func:`check_generation`).
        stop: Stop sequences: generation of a text ends once one appears, and the text is cut
            before it.
        batch_size: Prompts per ``generate`` call.
        add_special_tokens: Whether the tokenizer adds its special tokens (``False`` for
            prompts rendered by a chat template, which already contain them).
        keep_special: Special tokens to keep in the decoded text.

    Returns:
        Only the new text of each prompt, in the order of ``prompts``.

    Raises:
        InvalidInputError: A bad setting, an empty prompt or a prompt too long for the model.
    """
    import torch

    if batch_size < 1:
        raise InvalidInputError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    kwargs, seed, max_new_tokens = _generate_kwargs(tokenizer, settings)
    skip = skipped_token_ids(tokenizer, keep_special)
    stops = [s for s in stop if s]
    texts: list[str] = []
    for start in range(0, len(prompts), batch_size):
        encoded = _Encoded(model, tokenizer, prompts[start : start + batch_size], add_special_tokens, max_new_tokens)
        criteria = _stop_criteria(tokenizer, stops, encoded.prompt_length, skip, None)
        with _model_lock(model), torch.inference_mode(), _seeded(seed, model.device):
            output = model.generate(**encoded.inputs, **kwargs, stopping_criteria=criteria)
        for row in output[:, encoded.prompt_length :].tolist():
            texts.append(cut_at_stop(_decode(tokenizer, row, skip), stops)[0])
    return texts


class _QueueStreamer:
    """A ``generate`` streamer that hands each new token's ids to the consuming thread.

    transformers' ``TextIteratorStreamer`` yields whole words, and its consumer waits for a
    timeout when ``generate`` fails; this one passes single tokens and the failure itself.
    """

    def __init__(self, tokens: queue.Queue[Any]) -> None:
        self._tokens = tokens
        self._prompt_seen = False

    def put(self, value: Any) -> None:
        if value.dim() > 1:
            value = value[0]
        if not self._prompt_seen:
            # The first call carries the prompt (or an encoder-decoder's start token).
            self._prompt_seen = True
            return
        self._tokens.put(value.tolist())

    def end(self) -> None:
        self._tokens.put(_END)


_END = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def stream_text(
    model: Any,
    tokenizer: Any,
    prompt: str,
    settings: Mapping[str, Any],
    *,
    stop: Sequence[str] = (),
    add_special_tokens: bool = True,
    keep_special: Collection[str] = (),
) -> Iterator[str]:
    """Generate a continuation of ``prompt`` and yield it piece by piece as tokens arrive.

    Each piece is the text a new token completes (a token that ends inside a multi-byte
    character waits for the next). A tail that could be the start of a stop sequence is held
    back until it is not; once a stop appears, generation stops and nothing from the stop on
    is yielded. Closing the iterator early stops generation too.

    Args: see :func:`generate_texts` (one prompt, no batch size).

    Raises:
        InvalidInputError: A bad setting, an empty prompt or a prompt too long for the model.
    """
    import torch

    kwargs, seed, max_new_tokens = _generate_kwargs(tokenizer, settings)
    skip = skipped_token_ids(tokenizer, keep_special)
    stops = [s for s in stop if s]
    encoded = _Encoded(model, tokenizer, [prompt], add_special_tokens, max_new_tokens)
    cancel = threading.Event()
    criteria = _stop_criteria(tokenizer, stops, encoded.prompt_length, skip, cancel)
    tokens: queue.Queue[Any] = queue.Queue()

    def run() -> None:
        try:
            with _model_lock(model), torch.inference_mode(), _seeded(seed, model.device):
                model.generate(**encoded.inputs, **kwargs, stopping_criteria=criteria, streamer=_QueueStreamer(tokens))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            tokens.put(_Failed(exc))
        tokens.put(_END)

    worker = threading.Thread(target=run, name="genlab-generate", daemon=True)
    worker.start()
    ids: list[int] = []
    sent = 0
    try:
        while True:
            item = tokens.get()
            if item is _END:
                break
            if isinstance(item, _Failed):
                raise item.error
            ids.extend(item)
            text = _decode(tokenizer, ids, skip)
            if text.endswith("\ufffd"):
                continue  # a multi-byte character is not complete yet
            text, stopped = cut_at_stop(text, stops)
            ready = len(text) if stopped else len(text) - partial_stop_length(text, stops)
            if ready > sent:
                yield text[sent:ready]
                sent = ready
            if stopped:
                return
        text, _ = cut_at_stop(_decode(tokenizer, ids, skip), stops)
        if len(text) > sent:
            yield text[sent:]
    finally:
        cancel.set()
        worker.join()
