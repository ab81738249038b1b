"""What ``genlab models`` reports: the model of each role and whether it can be loaded offline."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from genlab.errors import InvalidInputError, ModelUnavailableError
from genlab.models.runtime import LoadedModel, get_runtime
from genlab.settings import ROLES, get_settings


class RoleStatus(BaseModel):
    """One role's configured model and whether it is on this machine."""

    role: str
    model: str
    available: bool
    """True when the model is a local folder or in the Hugging Face cache (and of the right kind)."""
    detail: str
    """The folder it loads from, or why it cannot be loaded."""


def role_statuses() -> list[RoleStatus]:
    """Check every role's model from its config files only (no weights are loaded)."""
    settings = get_settings()
    rows = []
    for role in ROLES:
        model = settings.model_for(role)
        try:
            kind, source, device, _ = get_runtime().key_for(role)
        except ModelUnavailableError as exc:
            rows.append(RoleStatus(role=role, model=model, available=False, detail=exc.reason))
            continue
        if not Path(source).is_dir():  # a hub id that is not cached yet
            rows.append(RoleStatus(role=role, model=model, available=False, detail="not cached; downloads on first use"))
        else:
            rows.append(RoleStatus(role=role, model=model, available=True, detail=f"{kind} on {device}: {source}"))
    return rows


def reranker_status() -> RoleStatus:
    """The optional retrieval reranker (``GENLAB_RERANKER_MODEL``): off, a folder, or a hub id.

    Not one of the roles: it is off by default, and nothing fails without it.
    """
    model = get_settings().reranker_model
    if model is None:
        detail = "off (optional): set GENLAB_RERANKER_MODEL to a cross-encoder"
        return RoleStatus(role="reranker", model="-", available=False, detail=detail)
    if Path(model).expanduser().is_dir():
        return RoleStatus(role="reranker", model=model, available=True, detail=f"cross-encoder: {Path(model).expanduser()}")
    return RoleStatus(role="reranker", model=model, available=False, detail="not a folder here; a hub id downloads on first use")


def load_roles(roles: list[str]) -> list[LoadedModel]:
    """Load the models of ``roles`` now and return what was loaded.

    Raises:
        InvalidInputError: A role name is unknown.
        ModelUnavailableError: A model cannot be loaded.
    """
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise InvalidInputError(f"unknown role {unknown[0]!r}; roles are: {', '.join(ROLES)}")
    runtime = get_runtime()
    for role in roles:
        runtime.get(role)
    by_source = {m.source: m for m in runtime.loaded()}
    return [by_source[runtime.key_for(r)[1]] for r in roles]
