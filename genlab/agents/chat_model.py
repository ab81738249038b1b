"""Choosing the agent's chat model: a given one, the configured one, or one from a factory.

The configured one comes from the one seam, :func:`genlab.models.load_chat_model`: a local
model, or a server named by the model string (``openai:NAME``, ``ollama:NAME``).

``GENLAB_CHAT_FACTORY=package.module:function`` names a function that returns a LangChain
chat model. It still earns its place beside the model strings: it is the only way to put a
chat model that no model string can name behind ``genlab chat`` and ``genlab ui`` — a class
of your own, a wrapper with guardrails, a provider's client configured beyond URL and key, or
the scripted model the REPL and browser tests drive the agent with. The function is called
with the ``--model`` value (or ``None``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel

from genlab.errors import GenlabError, InvalidInputError, ModelUnavailableError
from genlab.models import load_chat_model, parse_model
from genlab.models.runtime import get_runtime
from genlab.settings import get_settings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from genlab.settings import Settings

FACTORY_ENV = "GENLAB_CHAT_FACTORY"


def resolve_chat_model(
    model: BaseChatModel | str | None = None, *, settings: Settings | None = None, **generation: Any
) -> BaseChatModel:
    """Return ``model`` if it is a chat model, else the factory's or the local chat model.

    Args:
        model: A chat model (returned as is), a hub id or folder, or ``None`` for the
            configured one.
        settings: Settings whose ``chat_model`` is used when ``model`` is ``None``.
        **generation: Generation settings (see :func:`genlab.models.load_chat_model`; mapped for a server).

    Raises:
        ModelUnavailableError: The model cannot be loaded, or ``GENLAB_CHAT_FACTORY`` does
            not name a function that returns a chat model.
    """
    if isinstance(model, BaseChatModel):
        if generation:
            raise InvalidInputError("generation settings apply to a model genlab loads; set them on the chat model you pass")
        return model

    spec = ((settings or get_settings()).chat_factory or "").strip()
    if spec:
        if generation:
            # Its parameters have other names (max_tokens...); the factory's function sets them.
            raise InvalidInputError(
                f"generation settings ({', '.join(generation)}) apply to the local chat model; "
                f"with {FACTORY_ENV} set, the function it names sets them"
            )
        return _from_factory(spec, model)

    chat_model = load_chat_model(model, settings=settings, **generation)
    if not parse_model("chat", model, settings).remote:
        # The local model loads on its first call; check now, from its config files only, that
        # it can load, so a missing model is reported before the learner types a question.
        # (A server is not contacted here: building an agent does no network I/O.)
        get_runtime().key_for("chat", model, settings=settings)
    return chat_model


def _from_factory(spec: str, model: str | None) -> BaseChatModel:

    module_name, sep, attr = spec.partition(":")
    fixes = f"set {FACTORY_ENV} to 'package.module:function' (a function returning a LangChain chat model) or unset it"
    if not sep or not module_name or not attr:
        raise ModelUnavailableError("chat", spec, f"{FACTORY_ENV} is not of the form module:function", fixes=fixes)
    try:
        factory: Any = getattr(importlib.import_module(module_name), attr)
    except ImportError as exc:
        # The module is named by configuration, not by genlab: report it as a configuration
        # problem the user can fix, with the import error's own words.
        raise ModelUnavailableError("chat", spec, f"cannot import {module_name!r} ({exc})", fixes=fixes) from exc
    except AttributeError as exc:
        raise ModelUnavailableError("chat", spec, f"{module_name!r} has no attribute {attr!r}", fixes=fixes) from exc
    if not callable(factory) or isinstance(factory, type) and not issubclass(factory, BaseChatModel):
        raise ModelUnavailableError(
            "chat", spec, f"{spec!r} is a {type(factory).__name__}, not a function returning a chat model", fixes=fixes
        )
    try:
        chat_model = factory(model)
    except GenlabError:
        raise
    except Exception as exc:
        # The factory is the user's code, named by their configuration: its failure is a
        # configuration problem to report in one line, not a genlab bug.
        detail = " ".join(str(exc).split())[:200]
        raise ModelUnavailableError("chat", spec, f"the factory raised {type(exc).__name__}: {detail}", fixes=fixes) from exc
    if not isinstance(chat_model, BaseChatModel):
        raise ModelUnavailableError(
            "chat", spec, f"the factory returned {type(chat_model).__name__}, not a chat model", fixes=fixes
        )
    return chat_model
