"""Local Hugging Face models: the shared runtime and the LangChain wrappers around it.

- :func:`get_runtime` / :func:`get_model`: load a model for a role once and share it.
- :func:`resolve_model`: the one seam from a role's model string (a hub id, a folder, a
  ``.gguf`` file, ``openai:NAME``, ``ollama:NAME``) to a LangChain model; every consumer uses it.
- :func:`load_llm` / :func:`load_chat_model`: a LangChain LLM / tool-calling chat model for a
  role, local (loaded once, shared) or on a model server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from genlab._lazy import lazy_getattr
from genlab.errors import ModelUnavailableError
from genlab.models.runtime import LoadedModel, ModelRuntime, get_model, get_runtime

if TYPE_CHECKING:
    from genlab.models.backends import ModelSpec, check_available, load_chat_model, load_llm, parse_model, resolve_model
    from genlab.models.chat import ChatLocalModel
    from genlab.models.llm import LocalLLM

# The wrappers import langchain-core and langchain-huggingface; keep `import genlab.models`
# cheap by resolving them on first attribute access.
_LAZY = {
    "load_llm": "genlab.models.backends",
    "load_chat_model": "genlab.models.backends",
    "resolve_model": "genlab.models.backends",
    "parse_model": "genlab.models.backends",
    "check_available": "genlab.models.backends",
    "ModelSpec": "genlab.models.backends",
    "LocalLLM": "genlab.models.llm",
    "ChatLocalModel": "genlab.models.chat",
}

__all__ = [
    "ChatLocalModel",
    "LoadedModel",
    "LocalLLM",
    "ModelRuntime",
    "ModelSpec",
    "ModelUnavailableError",
    "check_available",
    "get_model",
    "get_runtime",
    "load_chat_model",
    "load_llm",
    "parse_model",
    "resolve_model",
]


__getattr__ = lazy_getattr(__name__, _LAZY)
