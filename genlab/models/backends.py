"""Where a role's model runs: one seam from a model string to a LangChain model.

Every consumer that needs a generative model — :func:`load_llm`, :func:`load_chat_model`,
the chains' lazy default, the tools that drive a language model, the agent, the CLI and the
UI — asks :func:`resolve_model` (or one of the two ``load_*`` functions built on it). The
role's model string says where the model runs, in LangChain's ``provider:model`` convention
(the one ``init_chat_model`` uses):

=========================  ===================================================================
``Qwen/Qwen2.5-1.5B-Instruct``, ``./my-model``  local transformers (the default), loaded once by
                           the shared runtime
``./model.gguf``, ``org/repo:file.gguf``  a GGUF file, loaded locally by transformers
``openai:NAME``            any OpenAI-compatible server (vLLM, TGI, llama.cpp's server, LM Studio,
                           ``transformers serve``) at ``GENLAB_OPENAI_BASE_URL``
``ollama:NAME``            an Ollama server at ``GENLAB_OLLAMA_BASE_URL``
``PROVIDER:NAME``          any other provider LangChain's ``init_chat_model`` knows (its
                           ``langchain-PROVIDER`` package must be installed)
=========================  ===================================================================

A per-role URL (``GENLAB_CHAT_BASE_URL``, ``GENLAB_TEXT_BASE_URL``, ...) overrides the
provider's. The same generation settings (``max_new_tokens``, ``temperature``, ``top_p``,
``top_k``, ``repetition_penalty``, ``seed``, ``stop``) work for every provider; they are
validated once, here, and translated to each client's names.

Server clients are built with a small retry count and the configured timeout, so a server
that is down is reported in seconds, naming the URL and the role
(:class:`~genlab.errors.ModelUnavailableError`); nothing is contacted when a model is built.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from genlab.errors import InvalidInputError, ModelUnavailableError, describe_validation_error
from genlab.models import server_clients
from genlab.models.generation import DEFAULT_MAX_NEW_TOKENS
from genlab.models.runtime import get_runtime
from genlab.settings import ROLES, Settings, get_settings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel, BaseLanguageModel, BaseLLM

#: Providers genlab configures itself; any other ``provider:`` goes to ``init_chat_model``.
SERVER_PROVIDERS = ("openai", "ollama")

#: Roles whose model generates text and can therefore run on a server.
GENERATIVE_ROLES = ("text", "chat", "summary", "few_shot")

#: What OpenAI-compatible servers accept when no key is needed (vLLM, TGI, transformers serve).
PLACEHOLDER_API_KEY = "EMPTY"

#: Attempts per request: a server that is down should be reported in seconds, not minutes.
SERVER_MAX_RETRIES = 1

_PROVIDER = re.compile(r"^[a-z][a-z0-9_-]*$")


class ModelSpec(BaseModel):
    """Where one role's model runs, parsed from its model string."""

    model_config = ConfigDict(frozen=True)

    role: str
    """The role (``text``, ``chat``, ``summary``, ``few_shot``, ...)."""
    provider: str
    """``local`` (transformers in this process), ``openai``, ``ollama``, or another
    ``init_chat_model`` provider."""
    name: str
    """The model: a hub id, folder or GGUF file for ``local``; the server's model name otherwise."""
    base_url: str | None = None
    """The server's URL (``None`` for local models, and for OpenAI's own API)."""

    @property
    def remote(self) -> bool:
        """Whether the model runs outside this process."""
        return self.provider != "local"

    @property
    def display(self) -> str:
        """The model string as a user writes it."""
        return self.name if self.provider == "local" else f"{self.provider}:{self.name}"


def split_provider(model: str) -> tuple[str, str]:
    """Split a model string into ``(provider, name)``; ``("local", model)`` without a provider.

    A Windows path (``C:\\models\\x``) and a GGUF file in a hub repository
    (``org/repo:file.gguf``) are local: a provider name has no ``/`` and more than one letter.
    """
    model = model.strip()
    prefix, sep, rest = model.partition(":")
    if not sep or model.lower().endswith(".gguf") or len(prefix) == 1 or not _PROVIDER.match(prefix):
        return "local", model
    return prefix, rest.strip()


def parse_model(role: str, model: str | None = None, settings: Settings | None = None) -> ModelSpec:
    """Return where ``role``'s model runs.

    Args:
        role: One of :data:`genlab.settings.ROLES`.
        model: A model string overriding the configured one (``--model``, ``model=``).
        settings: The settings to read; defaults to :func:`genlab.settings.get_settings`.

    Raises:
        InvalidInputError: An unknown role, an empty model name after ``provider:``, or a
            server provider for a role that does not generate text (image, music...).
    """
    if role not in ROLES:
        raise InvalidInputError(f"unknown role {role!r}; roles are: {', '.join(ROLES)}")
    settings = settings or get_settings()
    text = (model if model is not None else settings.model_for(role)) or ""
    provider, name = split_provider(str(text))
    if provider == "local":
        return ModelSpec(role=role, provider="local", name=name)
    if not name:
        raise InvalidInputError(f"the model {text!r} for the {role} role names no model after {provider!r}:")
    if role not in GENERATIVE_ROLES:
        raise InvalidInputError(
            f"the {role} role runs locally only (a hub id or folder), got {text!r}; "
            f"server models ({provider}:NAME) are for the {', '.join(GENERATIVE_ROLES)} roles"
        )
    base_url = settings.base_url_for(role)
    if base_url is None and provider == "openai":
        base_url = settings.openai_base_url
    if base_url is None and provider == "ollama":
        base_url = settings.ollama_base_url or "http://localhost:11434"
    return ModelSpec(role=role, provider=provider, name=name, base_url=base_url)


# -- generation settings, one set of names for every provider --------------------------------


def _checked(generation: dict[str, Any]) -> dict[str, Any]:
    """Validate generation settings once for every provider (``None`` means not set)."""
    from genlab.models.llm import check_load_arguments

    check_load_arguments("text", generation)
    return {k: v for k, v in generation.items() if v is not None}


def _stops(generation: dict[str, Any]) -> list[str] | None:
    stop = generation.get("stop")
    return [stop] if isinstance(stop, str) else stop


def _temperature(generation: dict[str, Any]) -> dict[str, float]:
    """``{"temperature": ...}`` for a server client: 0 for greedy decoding (``temperature=0`` or
    ``do_sample=False``), the given value otherwise, nothing when unset."""
    if generation.get("do_sample") is False or generation.get("temperature") == 0:
        return {"temperature": 0.0}
    if "temperature" in generation:
        return {"temperature": generation["temperature"]}
    return {}


def _openai_arguments(spec: ModelSpec, settings: Settings, generation: dict[str, Any]) -> dict[str, Any]:
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    if spec.base_url is None and key is None:
        raise ModelUnavailableError(
            spec.role,
            spec.display,
            "no server is configured for openai: models",
            fixes="set GENLAB_OPENAI_BASE_URL to your server (e.g. http://127.0.0.1:8000/v1), "
            "or GENLAB_OPENAI_API_KEY to use OpenAI's own API",
        )
    arguments: dict[str, Any] = {
        "model": spec.name,
        "base_url": spec.base_url,
        "api_key": key or PLACEHOLDER_API_KEY,
        "timeout": settings.request_timeout,
        "max_retries": SERVER_MAX_RETRIES,
    }
    if "max_new_tokens" in generation:
        arguments["max_tokens"] = generation["max_new_tokens"]
    arguments.update(_temperature(generation))
    for name in ("top_p", "seed"):
        if name in generation:
            arguments[name] = generation[name]
    # Not in OpenAI's API; vLLM, TGI and transformers serve read them from the body.
    extra = {name: generation[name] for name in ("top_k", "repetition_penalty") if name in generation}
    if extra:
        arguments["extra_body"] = extra
    return arguments


def _ollama_arguments(spec: ModelSpec, settings: Settings, generation: dict[str, Any]) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "model": spec.name,
        "base_url": spec.base_url,
        "client_kwargs": {"timeout": settings.request_timeout},
    }
    names = {
        "max_new_tokens": "num_predict",
        "top_p": "top_p",
        "top_k": "top_k",
        "repetition_penalty": "repeat_penalty",
        "seed": "seed",
    }
    arguments.update({theirs: generation[ours] for ours, theirs in names.items() if ours in generation})
    arguments.update(_temperature(generation))
    if _stops(generation):
        arguments["stop"] = _stops(generation)
    return arguments


def _missing_client(spec: ModelSpec, package: str, exc: ImportError) -> ModelUnavailableError:
    return ModelUnavailableError(
        spec.role, spec.display, f"the {package} package is not installed ({exc})", fixes=f"pip install {package}"
    )


def _client_class(spec: ModelSpec, factory: str, package: str) -> Any:
    """The genlab client class built by ``server_clients.<factory>()``; a missing package is one line."""
    try:
        return getattr(server_clients, factory)()
    except ImportError as exc:
        raise _missing_client(spec, package, exc) from exc


def _server_chat_model(spec: ModelSpec, settings: Settings, generation: dict[str, Any]) -> BaseChatModel:
    if spec.provider == "openai":
        ChatOpenAI = _client_class(spec, "chat_openai_class", "langchain-openai")
        arguments = _openai_arguments(spec, settings, generation)
        if _stops(generation):
            arguments["stop"] = _stops(generation)
        return ChatOpenAI(genlab_spec=spec, **arguments)
    if spec.provider == "ollama":
        ChatOllama = _client_class(spec, "chat_ollama_class", "langchain-ollama")
        return ChatOllama(genlab_spec=spec, **_ollama_arguments(spec, settings, generation))
    from langchain.chat_models import init_chat_model

    arguments = _portable_arguments(generation)
    if spec.base_url:
        arguments["base_url"] = spec.base_url
    try:
        return init_chat_model(spec.name, model_provider=spec.provider, **arguments)
    except ImportError as exc:
        raise _missing_client(spec, f"langchain-{spec.provider}", exc) from exc
    except ValueError as exc:  # an unknown provider
        raise ModelUnavailableError(
            spec.role,
            spec.display,
            f"unknown model provider {spec.provider!r} ({exc})",
            fixes="use a hub id or folder, openai:NAME, ollama:NAME, or a provider LangChain's init_chat_model knows",
        ) from exc


def _portable_arguments(generation: dict[str, Any]) -> dict[str, Any]:
    """The portable subset for providers genlab does not configure itself."""
    arguments: dict[str, Any] = {}
    if "max_new_tokens" in generation:
        arguments["max_tokens"] = generation["max_new_tokens"]
    arguments.update(_temperature(generation))
    return arguments


def _server_llm(spec: ModelSpec, settings: Settings, generation: dict[str, Any]) -> BaseLLM:
    if spec.provider == "openai":
        OpenAI = _client_class(spec, "openai_llm_class", "langchain-openai")
        arguments = _openai_arguments(spec, settings, generation)
        arguments.setdefault("max_tokens", DEFAULT_MAX_NEW_TOKENS)
        if _stops(generation):
            # The completions client has no ``stop`` field: model_kwargs go into every request
            # (a call's own ``stop`` replaces them, as with a local model's call-level stops).
            arguments["model_kwargs"] = {"stop": _stops(generation)}
        # One string prompt per request (see genlab.models.server_clients).
        return OpenAI(genlab_spec=spec, streaming=True, batch_size=1, **arguments)
    if spec.provider == "ollama":
        OllamaLLM = _client_class(spec, "ollama_llm_class", "langchain-ollama")
        return OllamaLLM(genlab_spec=spec, **_ollama_arguments(spec, settings, generation))
    raise InvalidInputError(
        f"load_llm supports local, openai: and ollama: models; for {spec.display!r} use "
        "load_chat_model or resolve_model (a chat model)"
    )


# -- the public functions ------------------------------------------------------------------------


def load_llm(model: str | None = None, *, role: str = "text", settings: Settings | None = None, **generation: Any) -> BaseLLM:
    """Return a LangChain LLM (prompt in, text out) for ``role``; nothing loads or connects yet.

    Args:
        model: A model string (see the module docstring) overriding ``GENLAB_<ROLE>_MODEL``.
        role: The role whose configured model, URL and shared local copy are used.
        settings: Settings to use instead of the process-wide ones.
        **generation: Defaults for every call: ``max_new_tokens``, ``temperature``, ``top_p``,
            ``top_k``, ``do_sample``, ``repetition_penalty``, ``seed``, ``stop`` (a list of
            stop sequences) and ``batch_size`` (local models).

    Returns:
        A :class:`~genlab.models.llm.LocalLLM` for a local model (loaded on first use and
        shared), an ``OpenAI`` completions client for ``openai:``, ``OllamaLLM`` for ``ollama:``.

    Raises:
        InvalidInputError: An unknown setting, a value out of range, or an unknown role.
        ModelUnavailableError: A server provider whose client package is missing or that has
            no URL configured.

    Example:
        ```python
        llm = load_llm(stop=["###"], max_new_tokens=8)
        llm.invoke("Text: I loved it\\nLabel:")
        ```
    """
    generation = _checked(generation)
    settings_given = settings
    settings = settings or get_settings()
    spec = parse_model(role, model, settings)
    if spec.remote:
        generation.pop("batch_size", None)
        return _server_llm(spec, settings, generation)

    from genlab.models.llm import LocalLLM

    try:
        return LocalLLM(model_id=model, role=role, settings=settings_given, **generation)
    except ValidationError as exc:
        # A wrong type (stop=3, batch_size=0...): one line naming the setting, as for the others.
        raise InvalidInputError(describe_validation_error(exc)) from None


def load_chat_model(
    model: str | None = None, *, role: str = "chat", settings: Settings | None = None, **generation: Any
) -> BaseChatModel:
    """Return a tool-calling LangChain chat model for ``role``; nothing loads or connects yet.

    Args:
        model: A model string (see the module docstring) overriding ``GENLAB_<ROLE>_MODEL``.
        role: The role whose configured model and URL are used.
        settings: Settings to use instead of the process-wide ones.
        **generation: As for :func:`load_llm`.

    Returns:
        A :class:`~genlab.models.chat.ChatLocalModel` for a local model (sharing its weights
        with :func:`load_llm`), ``ChatOpenAI`` for ``openai:``, ``ChatOllama`` for
        ``ollama:``, or the ``init_chat_model`` model of another provider. ``bind_tools``,
        ``stop``, streaming and ``with_structured_output`` pass through to the server.

    Raises:
        InvalidInputError: An unknown setting, a value out of range, or an unknown role.
        ModelUnavailableError: A server provider whose client package is missing or that has
            no URL configured.
    """
    settings_given = settings
    settings = settings or get_settings()
    spec = parse_model(role, model, settings)
    if spec.remote:
        generation = _checked(generation)
        generation.pop("batch_size", None)
        return _server_chat_model(spec, settings, generation)
    from genlab.models.chat import ChatLocalModel

    return ChatLocalModel(llm=load_llm(model, role=role, settings=settings_given, **generation))


def resolve_model(
    role: str, model: str | None = None, *, settings: Settings | None = None, **generation: Any
) -> BaseLanguageModel:
    """Return the LangChain model a chain or tool should use for ``role``.

    The chat role gets a chat model; the other generative roles get the local LLM for a local
    model (prompt completion, tensor batching, shared weights), and a chat model for a
    server (every server speaks chat completions; not all serve plain completions).

    Args, Raises: as for :func:`load_llm`.
    """
    settings = settings or get_settings()
    spec = parse_model(role, model, settings)
    if role == "chat" or spec.remote:
        return load_chat_model(model, role=role, settings=settings, **generation)
    return load_llm(model, role=role, settings=settings, **generation)


def check_available(role: str, model: str | None = None, *, settings: Settings | None = None) -> ModelSpec:
    """Check, without loading weights or sending a prompt, that ``role``'s model can be used.

    A local model is checked from its config files; a server is asked for its model list
    (``GET {base_url}/models`` for OpenAI-compatible servers, ``GET /api/tags`` for Ollama).

    Raises:
        ModelUnavailableError: The local model is missing or of the wrong kind, or the server
            does not answer (the message names the URL and the role).
    """
    settings = settings or get_settings()
    spec = parse_model(role, model, settings)
    if not spec.remote:
        get_runtime().key_for(role, model, settings=settings)
        return spec
    if spec.provider in SERVER_PROVIDERS and spec.base_url:
        probe = spec.base_url + ("/models" if spec.provider == "openai" else "/api/tags")
        _probe(spec, probe, timeout=min(settings.request_timeout, 5.0))
    return spec


def _probe(spec: ModelSpec, url: str, *, timeout: float) -> None:

    try:
        response = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as exc:
        raise server_unavailable(spec, f"{type(exc).__name__}") from exc
    if response.status_code >= 400:
        raise server_unavailable(spec, f"HTTP {response.status_code} from {url}")


def server_unavailable(spec: ModelSpec, why: str, *, refused: bool = False) -> ModelUnavailableError:
    """The one error for a model server that cannot be reached (or, ``refused``, refuses a request)."""
    variable = "GENLAB_OPENAI_BASE_URL" if spec.provider == "openai" else f"GENLAB_{spec.provider.upper()}_BASE_URL"
    if refused:
        return ModelUnavailableError(
            spec.role,
            spec.display,
            f"the {spec.provider} server at {spec.base_url} refused the request ({why})",
            fixes=f"check that the server serves {spec.name!r} (GENLAB_{spec.role.upper()}_MODEL) and accepts these settings",
        )
    return ModelUnavailableError(
        spec.role,
        spec.display,
        f"the {spec.provider} server at {spec.base_url} does not answer ({why})",
        fixes=f"start the server, or point {variable} (or GENLAB_{spec.role.upper()}_BASE_URL) at one that runs",
    )
