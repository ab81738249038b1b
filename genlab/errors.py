"""Exceptions that the package raises on purpose.

Every error a user can fix by changing their input or configuration derives from
:class:`GenlabError`. The CLI prints these as one line and exits with code 2; anything else
is an unexpected failure (exit code 1).
"""

from __future__ import annotations


class GenlabError(Exception):
    """Base class for errors caused by input or configuration, not by a bug."""


class InvalidInputError(GenlabError, ValueError):
    """An argument is outside what is allowed; the message says what is allowed."""


class ModelUnavailableError(GenlabError):
    """A model for a role cannot be loaded: not on disk, not cached, or the wrong kind.

    Attributes:
        role: The role the model was asked for (``summary``, ``image``...).
        model_id: The hub id or local folder that was asked for.
        reason: What went wrong, in a few words.
    """

    def __init__(self, role: str, model_id: str, reason: str, *, fixes: str | None = None) -> None:
        self.role = role
        self.model_id = model_id
        self.reason = reason
        env = f"GENLAB_{role.upper()}_MODEL"
        if fixes is None:
            fixes = (
                f"set {env} to a local model folder, or download it once where there is a "
                f"network (`hf download {model_id}`)"
            )
        self.fixes = fixes
        super().__init__(f"{role} model {model_id!r} is not available: {reason}; {fixes}.")


class IndexCorruptError(GenlabError):
    """An index on disk cannot be read; rebuild it with ``genlab index --rebuild``."""


class IndexWriteError(GenlabError):
    """The index could not be written (a full disk, a lock path that is a folder...); the
    previous index is left as it was."""


class IndexServerError(GenlabError):
    """The Chroma server named by ``GENLAB_CHROMA_URL`` does not answer or refused a request."""
