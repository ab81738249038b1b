"""Local Hugging Face models: the shared runtime and the LangChain wrappers around it.

- :func:`get_runtime` / :func:`get_model`: load a model for a role once and share it.
- :func:`load_llm`: a LangChain LLM over a local text-generation model.
- :func:`load_chat_model`: a LangChain chat model with tool calling over a local instruct model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from genlab._lazy import lazy_getattr
from genlab.errors import ModelUnavailableError
from genlab.models.runtime import LoadedModel, ModelRuntime, get_model, get_runtime

if TYPE_CHECKING:
    from genlab.models.chat import ChatLocalModel, load_chat_model
    from genlab.models.llm import LocalLLM, load_llm

# The wrappers import langchain-core and langchain-huggingface; keep `import genlab.models`
# cheap by resolving them on first attribute access.
_LAZY = {
    "load_llm": "genlab.models.llm",
    "LocalLLM": "genlab.models.llm",
    "load_chat_model": "genlab.models.chat",
    "ChatLocalModel": "genlab.models.chat",
}

__all__ = [
    "ChatLocalModel",
    "LoadedModel",
    "LocalLLM",
    "ModelRuntime",
    "ModelUnavailableError",
    "get_model",
    "get_runtime",
    "load_chat_model",
    "load_llm",
]


__getattr__ = lazy_getattr(__name__, _LAZY)
