"""genlab: local Hugging Face models as LangChain LLMs, chat models, tools, chains and an agent.

Importing :mod:`genlab` is cheap: torch, transformers, diffusers, sentence-transformers,
chromadb and faiss are imported only where a model or an index is used.

Subpackages, in the one direction data flows: :mod:`genlab.settings` ->
:mod:`genlab.models` -> :mod:`genlab.tools` -> :mod:`genlab.chains` -> :mod:`genlab.agents`;
:mod:`genlab.retrieval` serves chains and agents.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
