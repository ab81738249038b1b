"""Token streaming over a local transformers model: :func:`stream_text`.

``model.generate`` runs in a thread and hands each new token to the consumer, which yields
text as it arrives, never a stop sequence, anything after it, or a tail that might be the
start of one. The settings, stops and decoding are those of :func:`genlab.models.generation.generate`,
so the pieces add up to the text it returns.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

from genlab.errors import InvalidInputError
from genlab.models.generation import (
    GenerationCall,
    GenerationInfo,
    cut_at_stop,
    encode_prompts,
    model_lock,
    partial_stop_length,
    plan_rows,
)


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
) -> Iterator[str | GenerationInfo]:
    """Generate a continuation of ``prompt`` and yield it piece by piece as tokens arrive.

    Each piece is the text a new token completes (a token that ends inside a multi-byte
    character waits for the next). A tail that could be the start of a stop sequence is held
    back until it is not; once a stop appears, generation stops and nothing from the stop on
    is yielded. Closing the iterator early stops generation too. The last item is the
    :class:`GenerationInfo` (how it ended, tokens in and out); the pieces add up to the text
    :func:`generate` returns for the same prompt and settings.

    Args: see :func:`generate` (one prompt, no batch size).

    Raises:
        InvalidInputError: A bad setting, an empty prompt or a prompt too long for the model.
    """
    import torch

    call = GenerationCall(model, tokenizer, settings, stop, keep_special)
    row = plan_rows(model, tokenizer, [prompt], call.requested, add_special_tokens)[0]
    if isinstance(row, InvalidInputError):
        raise row
    prompt_tokens, max_new_tokens = row
    inputs = encode_prompts(model, tokenizer, [prompt], add_special_tokens)
    encoder_decoder = bool(getattr(model.config, "is_encoder_decoder", False))
    cancel = threading.Event()
    kwargs = call.generate_kwargs(1, max_new_tokens, 0 if encoder_decoder else inputs["input_ids"].shape[1], cancel)
    tokens: queue.Queue[Any] = queue.Queue()

    def run() -> None:
        try:
            with model_lock(model), torch.inference_mode():
                model.generate(**inputs, **kwargs, streamer=_QueueStreamer(tokens))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            tokens.put(_Failed(exc))
        tokens.put(_END)

    worker = threading.Thread(target=run, name="genlab-generate", daemon=True)
    worker.start()
    ids: list[int] = []
    sent = 0
    stops = call.stops
    try:
        while True:
            item = tokens.get()
            if item is _END:
                break
            if isinstance(item, _Failed):
                raise item.error
            ids.extend(item)
            if ids[-1] in call.eos:
                continue  # the end of the answer: the final text is taken below
            text = call.decoder.decode(ids)
            if text.endswith("\ufffd"):
                continue  # a multi-byte character is not complete yet
            text, stopped = cut_at_stop(text, stops)
            ready = len(text) if stopped else len(text) - partial_stop_length(text, stops)
            shown = call.decoder.shown(text[:ready])
            if len(shown) > sent:
                yield shown[sent:]
                sent = len(shown)
            if stopped:
                cancel.set()
                break
        worker.join()
        final = call.finish(ids, prompt_tokens, max_new_tokens)
        if len(final.text) > sent:
            yield final.text[sent:]
        yield final.info
    finally:
        cancel.set()
        worker.join()
