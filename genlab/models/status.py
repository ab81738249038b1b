"""What ``genlab models`` reports: per role, the backend, where it points, whether it is usable.

A local model is checked from its config files only (nothing loads); a server role is asked
``GET {base_url}/models`` (Ollama: ``/api/tags``) with a short timeout, once per URL. A role
that is not usable carries the command or setting that fixes it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from pydantic import BaseModel

from genlab.errors import InvalidInputError, ModelUnavailableError
from genlab.models.backends import parse_model
from genlab.models.loaders import missing_library
from genlab.models.runtime import LoadedModel, get_runtime
from genlab.settings import ROLES, Settings, get_settings

#: Seconds a server gets to answer ``genlab models``: long enough for a busy server on a LAN,
#: short enough that a wrong URL does not stall the command.
SERVER_TIMEOUT_S = 3.0


class RoleStatus(BaseModel):
    """One role's configured model and whether it can be used from this machine."""

    role: str
    model: str
    """The model string as configured (``openai:NAME`` for a server)."""
    backend: str
    """``local`` (transformers in this process), ``openai``, ``ollama``..."""
    where: str
    """The folder a local model loads from (or its hub id when not cached), or the server's URL."""
    available: bool
    """True when the model is on disk (and of the right kind), or its server answers."""
    detail: str
    """What was found: the kind and device, or why it cannot be used."""
    fix: str | None = None
    """The command or setting that makes an unavailable role usable."""


def server_answers(url: str, timeout: float = SERVER_TIMEOUT_S) -> str | None:
    """GET ``url``; return None when it answers 2xx, else what went wrong in a few words."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # a URL from the settings
            json.loads(response.read(1_000_000) or b"{}")
            return None
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"no answer ({reason})" if str(reason) else "no answer"


def _probe_url(provider: str, base_url: str) -> str:
    base = base_url.rstrip("/")
    return f"{base}/api/tags" if provider == "ollama" else f"{base}/models"


def role_statuses(settings: Settings | None = None, *, timeout: float = SERVER_TIMEOUT_S) -> list[RoleStatus]:
    """Check every role (config files for local models, one GET per server; no weights load)."""
    settings = settings or get_settings()
    runtime = get_runtime()
    probes: dict[str, str | None] = {}
    rows = []
    for role in ROLES:
        spec = parse_model(role, None, settings)
        if spec.remote:
            rows.append(_server_status(role, spec.display, spec.provider, spec.base_url, probes, timeout))
            continue
        model = spec.name
        try:
            kind, source, device, _ = runtime.key_for(role, settings=settings)
        except ModelUnavailableError as exc:
            fix = exc.fixes
            if not _is_path(model) and model.count("/") <= 1 and exc.want is None:  # a hub id not here: fetch it
                fix = f"genlab models --download {role} (where there is a network), or {fix}"
            rows.append(
                RoleStatus(role=role, model=model, backend="local", where=model, available=False, detail=exc.reason, fix=fix)
            )
            continue
        missing = missing_library(role, kind, source)
        if missing is not None:
            rows.append(
                RoleStatus(
                    role=role,
                    model=model,
                    backend="local",
                    where=source,
                    available=False,
                    detail=missing.reason,
                    fix=missing.fixes,
                )
            )
        elif not Path(source).is_dir():  # a hub id that is not cached yet
            rows.append(
                RoleStatus(
                    role=role,
                    model=model,
                    backend="local",
                    where=model,
                    available=False,
                    detail="not in the Hugging Face cache; downloads on first use",
                    fix=f"genlab models --download {role}",
                )
            )
        else:
            rows.append(
                RoleStatus(role=role, model=model, backend="local", where=source, available=True, detail=f"{kind} on {device}")
            )
    return rows


def _is_path(model: str) -> bool:
    return model.startswith((".", "/", "~")) or "\\" in model or Path(model).expanduser().exists() or model.endswith(".gguf")


def _server_status(
    role: str, model: str, provider: str, base_url: str | None, probes: dict[str, str | None], timeout: float
) -> RoleStatus:
    if not base_url:
        return RoleStatus(
            role=role,
            model=model,
            backend=provider,
            where="the provider's default URL",
            available=True,
            detail="not checked (no base URL set)",
        )
    url = _probe_url(provider, base_url)
    if url not in probes:
        probes[url] = server_answers(url, timeout)
    problem = probes[url]
    if problem is None:
        return RoleStatus(
            role=role, model=model, backend=provider, where=base_url, available=True, detail=f"server answers at {url}"
        )
    setting = f"GENLAB_{provider.upper()}_BASE_URL"
    return RoleStatus(
        role=role,
        model=model,
        backend=provider,
        where=base_url,
        available=False,
        detail=f"server down: {url}: {problem}",
        fix=f"start the server at {base_url}, or set {setting} to where it runs",
    )


def reranker_status() -> RoleStatus:
    """The optional retrieval reranker (``GENLAB_RERANKER_MODEL``): off, a folder, or a hub id.

    Not one of the roles: it is off by default, and nothing fails without it.
    """
    model = get_settings().reranker_model
    if model is None:
        detail = "off (optional): set GENLAB_RERANKER_MODEL to a cross-encoder"
        return RoleStatus(role="reranker", model="-", backend="local", where="-", available=False, detail=detail)
    if Path(model).expanduser().is_dir():
        folder = str(Path(model).expanduser())
        return RoleStatus(role="reranker", model=model, backend="local", where=folder, available=True, detail="cross-encoder")
    return RoleStatus(
        role="reranker",
        model=model,
        backend="local",
        where=model,
        available=False,
        detail="not a folder here; a hub id downloads on first use",
    )


def load_roles(roles: list[str]) -> list[LoadedModel]:
    """Load the models of ``roles`` now and return what was loaded.

    Raises:
        InvalidInputError: A role name is unknown.
        ModelUnavailableError: A model cannot be loaded.
    """
    check_roles(roles)
    runtime = get_runtime()
    for role in roles:
        runtime.get(role)
    by_source = {m.source: m for m in runtime.loaded()}
    return [by_source[runtime.key_for(r)[1]] for r in roles]


def check_roles(roles: list[str]) -> None:
    """Raise InvalidInputError for a role name that does not exist."""
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise InvalidInputError(f"unknown role {unknown[0]!r}; roles are: {', '.join(ROLES)}")
