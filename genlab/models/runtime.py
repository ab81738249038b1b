"""The model runtime: every transformers / diffusers / sentence-transformers model, loaded once.

A model is keyed by (kind, source, device, dtype). The summarizer used by the ``summarize``
tool, by a chain and by an LLM wrapper is one object; the chat model and the text LLM share
one pipeline when they name the same model. Loading happens on first use, under a per-key
lock, so two threads asking for the same model load it once while different models load in
parallel.

With ``memory_budget_gb`` set, the runtime keeps the models it holds under that budget by
unloading the least recently used ones first, and retries a load that ran out of memory
after unloading the others.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from genlab.errors import GenlabError, ModelUnavailableError
from genlab.models.device import resolve_device, resolve_dtype
from genlab.models.loaders import LOADERS, detect_kind, module_bytes, role_needs
from genlab.models.sources import check_remote_code, resolve_source, weights_size
from genlab.settings import Settings, get_settings

logger = logging.getLogger(__name__)

ModelKey = tuple[str, str, str, str]


class LoadedModel(BaseModel):
    """What the runtime holds: one row of :meth:`ModelRuntime.loaded`."""

    role: str
    """The role that first asked for the model."""
    kind: str
    """``text-generation``, ``seq2seq``, ``zero-shot-classification``, ``text-to-image``..."""
    source: str
    """The local folder (or hub id) it was loaded from."""
    device: str
    dtype: str
    bytes: int
    """Memory taken by its weights."""
    load_seconds: float


@dataclass
class _Entry:
    obj: Any
    info: LoadedModel
    last_used: float = field(default_factory=time.monotonic)


class ModelRuntime:
    """Loads models on first use and shares them; see the module docstring.

    Args:
        settings: The settings to resolve roles, device and dtype with; defaults to
            :func:`genlab.settings.get_settings` read at each call, so a changed environment
            takes effect after ``get_settings.cache_clear()``.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._key_locks: dict[ModelKey, threading.Lock] = {}
        self._entries: dict[ModelKey, _Entry] = {}
        self.load_counts: Counter[ModelKey] = Counter()
        """How many times each key was loaded (tests and benchmarks count loads with it)."""

    @property
    def settings(self) -> Settings:
        return self._settings or get_settings()

    def key_for(self, role: str, model: str | None = None, *, settings: Settings | None = None) -> ModelKey:
        """Resolve ``role`` (and an optional model override) to the key a model is shared under.

        Reads only the model's small config files: nothing heavy is loaded.

        Raises:
            ModelUnavailableError: The model is missing, not a model, or the wrong kind for ``role``.
        """
        settings = settings or self.settings
        model_id = model or settings.model_for(role)
        with _named_by(role, model, settings):
            source = resolve_source(role, model_id)
            kind = detect_kind(role, source)
            check_remote_code(role, source, settings.trust_remote_code)
        device = resolve_device(settings.device)
        dtype = str(resolve_dtype(settings.dtype, device)).removeprefix("torch.")
        return (kind, source, device, dtype)

    def get(self, role: str, model: str | None = None, *, settings: Settings | None = None) -> Any:
        """Return the loaded pipeline (or model) for ``role``, loading it on first use.

        Args:
            role: One of :data:`genlab.settings.ROLES`.
            model: A hub id or folder overriding the configured model for this call.
            settings: Settings that choose the model, device and dtype for this call instead
                of the runtime's (weights stay shared by key across settings objects).

        Returns:
            A transformers pipeline (``text-generation``, :class:`~genlab.models.seq2seq.Seq2SeqPipeline`,
            ``zero-shot-classification``, ``text-to-audio``), a diffusers pipeline, or a
            ``SentenceTransformer`` for ``embedding``.

        Raises:
            ModelUnavailableError: The model cannot be found or is the wrong kind for the role.
        """
        key = self.key_for(role, model, settings=settings)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                entry.last_used = time.monotonic()
                return entry.obj
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock, _named_by(role, model, self.settings):
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None:
                    entry.last_used = time.monotonic()
                    return entry.obj
            return self._load(role, key)

    def _load(self, role: str, key: ModelKey) -> Any:
        kind, source, device, dtype_name = key
        dtype = resolve_dtype(dtype_name, device)
        self._make_room(weights_size(source), keep=key)
        logger.info("loading %s model %s (%s) on %s", role, source, kind, device)
        started = time.perf_counter()
        from safetensors import SafetensorError

        try:
            obj = self._call_loader(LOADERS[kind], source, device, dtype, key)
        except GenlabError:
            raise
        except OSError as exc:
            # transformers and diffusers report missing repos, missing files and failed
            # downloads as OSError (EnvironmentError).
            raise ModelUnavailableError(role, source, _first_line(exc)) from exc
        except ValueError as exc:
            # The loaders only build models from config files; transformers raises ValueError
            # ("Unrecognized configuration class ...") when the config is not of that kind, e.g.
            # MusicGen, an encoder-decoder, given as the summarizer.
            raise ModelUnavailableError(
                role, source, f"it cannot be loaded as a {kind} model ({_first_line(exc)[:160]})", want=role_needs(role)
            ) from exc
        except SafetensorError as exc:
            raise ModelUnavailableError(
                role,
                source,
                f"its weight files are damaged ({_first_line(exc)})",
                fixes="download the model again or point the setting at another folder",
            ) from exc
        info = LoadedModel(
            role=role,
            kind=kind,
            source=source,
            device=device,
            dtype=dtype_name,
            bytes=module_bytes(obj),
            load_seconds=round(time.perf_counter() - started, 3),
        )
        with self._lock:
            self._entries[key] = _Entry(obj, info)
            self.load_counts[key] += 1
        self._make_room(0, keep=key)
        return obj

    def _call_loader(self, loader: Any, source: str, device: str, dtype: Any, key: ModelKey) -> Any:
        trust = self.settings.trust_remote_code
        try:
            return loader(source, device, dtype, trust)
        except Exception as exc:
            if not _is_out_of_memory(exc) or not self._entries:
                raise
        logger.warning("out of memory loading %s; unloading the other models and retrying", source)
        self.unload(keep=key)
        return loader(source, device, dtype, trust)

    def _make_room(self, incoming: int, keep: ModelKey) -> None:
        """Unload least recently used models until the budget holds ``incoming`` more bytes."""
        budget_gb = self.settings.memory_budget_gb
        if budget_gb is None:
            return
        budget = int(budget_gb * 1024**3)
        with self._lock:
            order = sorted((e.last_used, k) for k, e in self._entries.items() if k != keep)
            held = sum(e.info.bytes for e in self._entries.values())
        for _, key in order:
            if held + incoming <= budget:
                break
            held -= self._entries[key].info.bytes
            logger.info("memory budget %.2f GB: unloading %s", budget_gb, key[1])
            self._drop(key)

    def loaded(self) -> list[LoadedModel]:
        """Return what is loaded now, most recently used first."""
        with self._lock:
            entries = sorted(self._entries.values(), key=lambda e: e.last_used, reverse=True)
            return [e.info for e in entries]

    def is_loaded(self, role: str, model: str | None = None) -> bool:
        """Return whether the model for ``role`` is loaded, without loading it."""
        with self._lock:
            return self.key_for(role, model) in self._entries

    def unload(self, source: str | None = None, *, keep: ModelKey | None = None) -> int:
        """Unload every model (or those loaded from ``source``) and free their memory.

        Returns:
            How many models were unloaded.
        """
        with self._lock:
            keys = [k for k in self._entries if (source is None or k[1] == source) and k != keep]
        for key in keys:
            self._drop(key)
        return len(keys)

    def _drop(self, key: ModelKey) -> None:
        with self._lock:
            entry = self._entries.pop(key, None)
        if entry is None:
            return
        del entry
        gc.collect()
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()


@contextmanager
def _named_by(role: str, model: str | None, settings: Settings) -> Iterator[None]:
    """Mark a model error as about the ``model=`` argument when one was passed for ``role``.

    This is the one place that knows whether the id came from the caller or the settings;
    the error's message then says "passed with model=" and "pass model=" instead of
    "set GENLAB_<ROLE>_MODEL" (which would be wrong advice). An argument equal to the
    configured model is the setting's value handed on, so the setting is named.
    """
    try:
        yield
    except ModelUnavailableError as exc:
        if model is not None and exc.origin is None and exc.role == role and str(model) != settings.model_for(role):
            exc.origin = "model="
        raise


def _is_out_of_memory(exc: Exception) -> bool:
    import torch

    return isinstance(exc, torch.OutOfMemoryError)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


_RUNTIME: ModelRuntime | None = None
_RUNTIME_LOCK = threading.Lock()


def get_runtime() -> ModelRuntime:
    """Return the process-wide runtime that every genlab component loads models through."""
    global _RUNTIME
    with _RUNTIME_LOCK:
        if _RUNTIME is None:
            _RUNTIME = ModelRuntime()
        return _RUNTIME


def get_model(role: str, model: str | None = None, *, settings: Settings | None = None) -> Any:
    """Shortcut for ``get_runtime().get(role, model, settings=settings)``."""
    return get_runtime().get(role, model, settings=settings)
