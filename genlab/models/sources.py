"""Where a model comes from: a local folder or the Hugging Face cache, checked before loading.

Loading a multi-gigabyte model only to learn it is the wrong kind wastes minutes, and the
libraries' own errors for a missing model ("We couldn't connect to ...", a 40-line
traceback) do not say which setting to change. These checks read a model's small config
files first and raise :class:`~genlab.errors.ModelUnavailableError` with the fix.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from genlab.errors import ModelUnavailableError

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
#: Files that mark a folder as a model: transformers, diffusers, sentence-transformers.
MODEL_MARKERS = ("config.json", "model_index.json", "modules.json")


def resolve_source(role: str, model_id: str) -> str:
    """Return a local folder for ``model_id`` if there is one, else the hub id to download.

    Args:
        role: The role asking, for error messages.
        model_id: A hub id (``org/name``) or a path to a model folder.

    Raises:
        ModelUnavailableError: The path is missing or not a model folder, the id is not a valid
            hub id, or the model is not cached while the hub is unreachable (offline mode).
    """
    model_id = str(model_id).strip()
    if not model_id:
        raise ModelUnavailableError(role, model_id, "the model id is empty")
    if is_gguf(model_id):
        return resolve_gguf(role, model_id)
    path = Path(model_id).expanduser()
    looks_like_path = model_id.startswith((".", "/", "~")) or "\\" in model_id or path.exists()
    if looks_like_path:
        want = "a folder holding a saved model, or a hub id"
        if not path.exists():
            raise ModelUnavailableError(role, model_id, "no such folder", want=want)
        if not path.is_dir():
            raise ModelUnavailableError(role, model_id, "it is a file, not a model folder", want=want)
        if not any((path / marker).is_file() for marker in MODEL_MARKERS):
            raise ModelUnavailableError(
                role,
                model_id,
                "the folder is not a model (no config.json, model_index.json or modules.json)",
                want=want,
            )
        check_readable(role, model_id, path)
        return str(path.resolve())
    if not _REPO_ID.match(model_id) or model_id.count("/") > 1:
        raise ModelUnavailableError(role, model_id, "it is neither an existing folder nor a valid hub id (org/name)")
    cached = cached_snapshot(model_id)
    if cached is not None:
        return cached
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        raise ModelUnavailableError(role, model_id, "it is not in the local Hugging Face cache and HF_HUB_OFFLINE is set")
    _probe_hub(role, model_id)
    return model_id


#: Files a loader opens: configs, tokenizers, weights.
_MODEL_FILE_SUFFIXES = {".json", ".safetensors", ".bin", ".pt", ".pth", ".model", ".txt", ".gguf"}


def check_readable(role: str, model_id: str, folder: Path) -> None:
    """Refuse a model folder with a file genlab cannot open (permissions, a dangling link).

    The libraries report an unreadable weight file as a missing one ("does not appear to
    have a file named..."), which sends the user looking for a download instead of at
    the file's permissions.

    Raises:
        ModelUnavailableError: Naming the first such file and why it cannot be read.
    """
    for file in sorted(folder.rglob("*")):
        if file.suffix not in _MODEL_FILE_SUFFIXES or file.is_dir():
            continue
        problem = None
        if not file.exists():
            problem = "it is a link to nothing"
        elif not os.access(file, os.R_OK):
            problem = "permission denied"
        else:
            try:
                with open(file, "rb"):
                    pass
            except OSError as exc:
                problem = exc.strerror or type(exc).__name__
        if problem:
            relative = file.relative_to(folder)
            raise ModelUnavailableError(
                role,
                model_id,
                f"its file {relative} cannot be read ({problem})",
                fixes=f"make the folder's files readable (chmod -R u+r '{folder}') or set GENLAB_{role.upper()}_MODEL "
                "to another folder",
            )


def check_remote_code(role: str, source: str, trust_remote_code: bool) -> None:
    """Refuse a model that can only load by running its own Python, unless remote code is allowed.

    A config with ``auto_map`` and a ``model_type`` transformers does not know needs the
    repository's code; transformers' own refusal would come only after the download.

    Raises:
        ModelUnavailableError: The model needs remote code and ``trust_remote_code`` is off.
    """
    if trust_remote_code or is_gguf(source):
        return  # a GGUF file holds weights and metadata only, no Python
    config = read_json(source, "config.json", role)
    if not config or not config.get("auto_map"):
        return
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    if config.get("model_type") in CONFIG_MAPPING_NAMES:
        return  # transformers has the code itself; the repository's copy is not run
    raise ModelUnavailableError(
        role,
        source,
        f"it runs its own Python code to load (model_type {config.get('model_type')!r} with auto_map), and remote code is off",
        fixes="only if you trust its authors, allow it with GENLAB_TRUST_REMOTE_CODE=1 or --trust-remote-code "
        f"(a genlab.toml in the current folder cannot); otherwise set GENLAB_{role.upper()}_MODEL to another model",
    )


def is_gguf(source: str) -> bool:
    """Whether a model string names a GGUF file (a path, or ``repo:file.gguf``)."""
    return str(source).strip().lower().endswith(".gguf")


def resolve_gguf(role: str, model_id: str) -> str:
    """Return the local path of a GGUF file: a path as given, or ``repo:file.gguf`` from the hub cache.

    Raises:
        ModelUnavailableError: No such file, or the file is not cached and the hub cannot be used.
    """
    fixes = f"set GENLAB_{role.upper()}_MODEL to a .gguf file or to repo:file.gguf"
    path = Path(model_id).expanduser()
    repo, sep, filename = model_id.partition(":")
    if path.is_file() or not sep or "/" in filename or not _REPO_ID.match(repo):
        if not path.is_file():
            raise ModelUnavailableError(role, model_id, "no such GGUF file", fixes=fixes)
        return str(path.resolve())
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        return hf_hub_download(repo, filename, local_files_only=constants.HF_HUB_OFFLINE)
    except LocalEntryNotFoundError as exc:  # a subclass of EntryNotFoundError: test it first
        why = "it is not in the local Hugging Face cache" + (" and HF_HUB_OFFLINE is set" if constants.HF_HUB_OFFLINE else "")
        raise ModelUnavailableError(role, model_id, why, fixes=fixes) from exc
    except EntryNotFoundError as exc:
        raise ModelUnavailableError(role, model_id, f"the repository {repo} has no file {filename}", fixes=fixes) from exc
    except RepositoryNotFoundError as exc:
        raise ModelUnavailableError(role, model_id, "no such repository on the Hugging Face hub (or it is private)") from exc
    except (HfHubHTTPError, OSError) as exc:
        raise ModelUnavailableError(role, model_id, f"the Hugging Face hub could not be reached ({type(exc).__name__})") from exc


def gguf_parameters(path: str) -> int:
    """Parameters in a GGUF file, from its tensor table (the weights are not read)."""
    from gguf import GGUFReader

    return sum(int(tensor.n_elements) for tensor in GGUFReader(path).tensors)


def _probe_hub(role: str, model_id: str) -> None:
    """Ask the hub once, quickly, whether ``model_id`` exists.

    Without this, a laptop with no network spends most of a minute in the download
    retries of huggingface_hub before failing with a message that names no setting.
    """
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    try:
        HfApi().model_info(model_id, timeout=10)
    except GatedRepoError:
        return  # exists; the download will ask for a token with its own clear message
    except RepositoryNotFoundError as exc:
        raise ModelUnavailableError(role, model_id, "no such repository on the Hugging Face hub (or it is private)") from exc
    except Exception as exc:  # connection errors come from httpx, HTTP errors from huggingface_hub
        raise ModelUnavailableError(
            role, model_id, f"it is not in the local Hugging Face cache and the hub cannot be reached ({type(exc).__name__})"
        ) from exc


def cached_snapshot(model_id: str) -> str | None:
    """Return the folder of a cached hub snapshot of ``model_id`` with a config file, or None."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        folder = Path(snapshot_download(model_id, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None
    if any((folder / marker).is_file() for marker in MODEL_MARKERS):
        return str(folder)
    return None


def read_json(source: str, filename: str, role: str) -> dict[str, Any] | None:
    """Read a small JSON file of a model (local folder or hub), or None if it has none.

    Raises:
        ModelUnavailableError: The hub cannot be reached or the repository does not exist.
    """
    folder = Path(source)
    if folder.is_dir():
        file = folder / filename
        return json.loads(file.read_text(encoding="utf-8")) if file.is_file() else None
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        return json.loads(Path(hf_hub_download(source, filename)).read_text(encoding="utf-8"))
    except LocalEntryNotFoundError as exc:  # a subclass of EntryNotFoundError: test it first
        raise ModelUnavailableError(role, source, f"the Hugging Face hub could not be reached ({type(exc).__name__})") from exc
    except EntryNotFoundError:
        return None
    except RepositoryNotFoundError as exc:
        raise ModelUnavailableError(role, source, "no such repository on the Hugging Face hub (or it is private)") from exc
    except (HfHubHTTPError, OSError) as exc:
        raise ModelUnavailableError(role, source, f"the Hugging Face hub could not be reached ({type(exc).__name__})") from exc


def weights_size(source: str) -> int:
    """Return the bytes of weight files in a local model folder (0 when unknown).

    A GGUF file counts as dequantized: transformers loads it as 4 bytes a parameter.
    """
    if is_gguf(source):
        return 4 * gguf_parameters(source)
    folder = Path(source)
    if not folder.is_dir():
        return 0
    suffixes = {".safetensors", ".bin", ".pt", ".pth"}
    return sum(f.stat().st_size for f in folder.rglob("*") if f.suffix in suffixes and f.is_file())
