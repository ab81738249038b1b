"""Safe names and all-or-nothing writes for generated files (images, audio, stories).

A file's name is chosen here, never taken from a prompt: ``<time>-<id>-<slug><suffix>``,
where the slug keeps only ``[a-z0-9-]`` (at most 40 characters). No prompt can put a path
separator or ``..`` into it, so every file lands inside the output folder.

Files are written under a hidden temporary name in the same folder and renamed when all
of them are complete. An exception, Ctrl-C included, removes whatever was written: a
reader never sees a half-written file, and a batch is kept whole or not at all.

Example:
    >>> with output_batch(folder) as batch:
    ...     pending = batch.reserve("a red fox", ".png")
    ...     with pending.open() as f:
    ...         image.save(f, format="PNG")
    >>> pending.path  # exists now
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from genlab.errors import DiskFullError, InvalidInputError
from genlab.settings import get_settings

SLUG_MAX_CHARS = 40
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_SUFFIX = re.compile(r"^\.[a-z0-9]{1,8}$")


def slugify(text: str, max_chars: int = SLUG_MAX_CHARS, fallback: str = "untitled") -> str:
    """Reduce ``text`` to lowercase ``[a-z0-9-]``, at most ``max_chars`` characters.

    Accents are folded (``café`` -> ``cafe``); other characters become ``-``. Text with no
    Latin letters or digits gives ``fallback``.
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")
    slug = slug[:max_chars].rstrip("-")
    return slug or fallback


def file_name(prompt: str, suffix: str, *, now: datetime | None = None) -> str:
    """Return a fresh file name ``<YYYYmmdd-HHMMSS>-<6 hex>-<slug of prompt><suffix>``."""
    if not _SUFFIX.match(suffix):
        raise ValueError(f"suffix must look like '.png', got {suffix!r}")
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(3)}-{slugify(prompt)}{suffix}"


def ensure_output_dir(out_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the output folder (``out_dir`` or the configured one), creating it if needed.

    Raises:
        InvalidInputError: The path exists and is not a folder, or cannot be created.
    """
    if out_dir is None:
        out_dir = get_settings().outputs
    folder = Path(out_dir).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InvalidInputError(f"output folder {str(folder)!r} is not a folder; pass a folder path") from None
    except PermissionError:
        raise InvalidInputError(f"output folder {str(folder)!r} cannot be created: permission denied") from None
    except OSError as exc:  # read-only or virtual file systems (/proc), full disks...
        raise InvalidInputError(f"output folder {str(folder)!r} cannot be created: {exc.strerror or exc}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InvalidInputError(f"output folder {str(folder)!r} is not writable; pass a folder you can write to")
    return folder.resolve()


@dataclass
class PendingFile:
    """A file being written: bytes go to ``temp`` until the batch commits them to ``path``."""

    path: Path
    """Where the file will be once the batch is committed."""
    temp: Path
    """Hidden name in the same folder (a rename within one file system is atomic)."""

    @contextmanager
    def open(self) -> Iterator[BinaryIO]:
        """Open the temporary file for binary writing (created exclusively)."""
        with open(self.temp, "xb") as handle:
            yield handle

    def write_bytes(self, data: bytes) -> None:
        """Write ``data`` to the temporary file."""
        with self.open() as handle:
            handle.write(data)


class OutputBatch:
    """Files reserved in one folder, committed together by :func:`output_batch`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: list[PendingFile] = []
        self._committed: list[Path] = []

    def reserve(self, prompt: str, suffix: str) -> PendingFile:
        """Choose a new file name for ``prompt`` and return its :class:`PendingFile`."""
        taken = {f.path.name for f in self.files}
        while True:
            name = file_name(prompt, suffix)
            path = self.folder / name
            if name not in taken and not path.exists():
                break
        pending = PendingFile(path=path, temp=self.folder / f".{name}.{secrets.token_hex(4)}.part")
        self.files.append(pending)
        return pending

    def commit(self) -> None:
        """Rename every temporary file to its final name."""
        for pending in self.files:
            os.replace(pending.temp, pending.path)
            self._committed.append(pending.path)

    def rollback(self) -> None:
        """Remove temporary files and any file this batch already committed."""
        for path in [*(f.temp for f in self.files), *self._committed]:
            try:
                path.unlink()
            except FileNotFoundError:
                pass


@contextmanager
def output_batch(out_dir: str | os.PathLike[str] | None = None) -> Iterator[OutputBatch]:
    """Reserve and write files in ``out_dir``; all appear at the end, or none on any error.

    Args:
        out_dir: The folder (created if missing); defaults to ``get_settings().outputs``.

    Raises:
        InvalidInputError: ``out_dir`` is not a usable folder.
    """
    batch = OutputBatch(ensure_output_dir(out_dir))
    try:
        yield batch
        batch.commit()
    except OSError as exc:
        batch.rollback()
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            names = ", ".join(f.path.name for f in batch.files) or "a file"
            raise DiskFullError(
                f"no space left in {batch.folder} while writing {names}; nothing was written (the partial "
                "file was removed); free some space, or choose another folder with --out or GENLAB_OUTPUT_DIR"
            ) from None
        raise
    except BaseException:  # Ctrl-C too: nothing half-written may stay behind
        batch.rollback()
        raise
