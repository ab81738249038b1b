"""Lazy exports for package ``__init__`` modules.

The subpackages re-export names whose modules import langchain-core, faiss or torch; a
module-level ``__getattr__`` (PEP 562) resolves each name on first use, so importing a
package stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_getattr(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """Return a module ``__getattr__`` that imports ``exports[name]`` when ``name`` is used.

    Args:
        package: The package's ``__name__`` (for the error message).
        exports: Public name -> the module that defines it.
    """

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
