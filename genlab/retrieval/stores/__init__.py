"""Where index versions live: a small backend interface, chosen in one place.

Three backends keep the same guarantees (a version is written beside the live one and made
live by one atomic switch; writers take turns; nothing is pickled):

- ``faiss``: files under ``$GENLAB_HOME/index/faiss`` (:mod:`.folder`);
- ``chroma``: the same layout with a Chroma database per version (:mod:`.folder`);
- ``chroma`` with ``GENLAB_CHROMA_URL`` set: collections in a Chroma server (:mod:`.chroma_server`).

:func:`open_store` is the only place that decides which one a store name means.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genlab.errors import IndexCorruptError, InvalidInputError
from genlab.settings import get_settings

if TYPE_CHECKING:
    from genlab.retrieval.dense import IndexVersion
    from genlab.retrieval.stores.records import NewVersion
    from genlab.settings import Settings

STORES = ("faiss", "chroma")


def check_store(store: str) -> str:
    """Return ``store`` if it is a known vector store.

    Raises:
        InvalidInputError: It is not ``faiss`` or ``chroma``.
    """
    if store not in STORES:
        raise InvalidInputError(f"unknown store {store!r}; use faiss or chroma")
    return store


class IndexStore(ABC):
    """Keeps the versions of one index: writes them, makes one live, reads it back, drops old ones."""

    kind: str
    """``faiss``, ``chroma`` or ``chroma-server`` (recorded in each manifest)."""
    location: str
    """Where the index is, for messages: a folder or the server's URL."""
    root: Path
    """A local folder of the store's own (its lock; for a server, the keyword-index cache)."""

    @abstractmethod
    def lock(self) -> contextlib.AbstractContextManager[Any]:
        """Held while a version is written, so that writers take turns."""

    @abstractmethod
    def live_name(self) -> str | None:
        """The live version's name, None when there is no index yet.

        Raises:
            IndexCorruptError: The pointer to the live version is damaged.
        """

    @abstractmethod
    def read(self, name: str) -> IndexVersion:
        """Load and validate version ``name`` (raises ``ValueError`` / ``OSError`` when damaged)."""

    @abstractmethod
    def write(self, version: NewVersion) -> str:
        """Write a complete new version beside the live one (not yet live); return its name.

        Raises:
            IndexWriteError: It could not be written; nothing of it is left behind.
        """

    @abstractmethod
    def switch(self, name: str) -> None:
        """Make version ``name`` the live one, atomically."""

    @abstractmethod
    def collect(self, keep: set[str]) -> list[str]:
        """Drop versions not in ``keep`` and what killed runs left; return what was dropped."""

    @abstractmethod
    def remembered_folders(self) -> list[str] | None:
        """The folders users added, kept apart from the versions; None when that record is lost."""

    @abstractmethod
    def remember_folders(self, folders: list[str]) -> None:
        """Replace the record of added folders (atomically)."""

    def safe_live_name(self) -> str | None:
        """:meth:`live_name`, or None when the pointer is damaged."""
        with contextlib.suppress(IndexCorruptError):
            return self.live_name()
        return None


def open_store(store: str, home: Path | None = None, settings: Settings | None = None) -> IndexStore:
    """The backend behind ``store``: the one place that maps a store name to where it lives.

    Args:
        store: ``faiss`` or ``chroma``.
        home: The folder local indexes live in; defaults to ``$GENLAB_HOME/index``.
        settings: Defaults to the process's settings (``chroma_url`` picks the server).
    """
    check_store(store)
    settings = settings or get_settings()
    base = Path(home) if home is not None else settings.home / "index"
    if store == "chroma" and settings.chroma_url:
        # cycle: the backends subclass IndexStore, defined above
        from genlab.retrieval.stores.chroma_server import ChromaServerStore

        return ChromaServerStore(settings.chroma_url, base)
    from genlab.retrieval.stores.folder import ChromaFolderStore, FaissFolderStore  # cycle: as above

    return (FaissFolderStore if store == "faiss" else ChromaFolderStore)(base / store)
