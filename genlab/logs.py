"""What the libraries under genlab may print: quiet for a user, everything with ``--debug``.

transformers, diffusers and huggingface_hub talk on stderr by default: a "Loading weights"
bar for every model, "falling back to CLIPImageProcessorPil" on every image, generation
config warnings on every MusicGen clip. For a learner running ``genlab image`` these lines
are noise that hides genlab's own one-line errors, so the command line and the web app call
:func:`configure` once, at start. genlab's own progress bars (rich, on a terminal only) and
its own warnings are unaffected. ``genlab --debug ...`` or ``GENLAB_LOG_LEVEL=warning`` (or
``info``, ``debug``) brings the libraries' output back.

``import genlab`` from Python changes nothing: a library must not reconfigure the logging of
the program that imports it. Only the CLI entry and the UI call :func:`configure`.

Nothing here imports a heavy library: the libraries read their verbosity from the
environment when they are imported, and the CLI calls :func:`configure` before any command
imports them, so setting the environment first is enough. diffusers' loading bar is the
exception: only a call silences it (:func:`quiet_diffusers`, called by the loader that
imports diffusers).
"""

from __future__ import annotations

import os
import warnings

#: Levels ``GENLAB_LOG_LEVEL`` accepts, quietest last.
LEVELS = ("debug", "info", "warning", "error")

#: Modules of the libraries genlab drives whose Python warnings are hidden when quiet.
LIBRARIES = ("transformers", "diffusers", "huggingface_hub", "sentence_transformers", "torch", "langchain_community")

_STATE: dict[str, bool] = {"quiet": False}


def configure(level: str | None = None, *, debug: bool = False) -> str:
    """Set how much the libraries print, for this process.

    Args:
        level: One of :data:`LEVELS` for the libraries' logs; ``error`` (the default when None)
            also hides their progress bars and Python warnings. Below ``error`` they show, as the
            libraries would on their own.
        debug: ``--debug`` was given: the libraries print at ``debug`` level, whatever ``level`` is.

    Returns:
        The level applied.
    """
    level = "debug" if debug else (level or "error").lower()
    if level not in LEVELS:
        level = "error"
    quiet = level == "error"
    _STATE["quiet"] = quiet
    # setdefault: a verbosity the user set for a library themselves wins.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", level)
    os.environ.setdefault("DIFFUSERS_VERBOSITY", level)
    if quiet:
        # Read once, when transformers is imported: "Loading weights" bars follow the hub's switch.
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
        os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
        pattern = r"(" + "|".join(LIBRARIES) + r")(\.|$)"
        warnings.filterwarnings("ignore", module=pattern)
    return level


def is_quiet() -> bool:
    """Whether :func:`configure` hid the libraries' output in this process."""
    return _STATE["quiet"]


def quiet_diffusers() -> None:
    """Hide diffusers' "Loading pipeline components" bar when the process is quiet.

    diffusers keeps its own switch for that bar (it does not follow huggingface_hub's), so the
    loader that imports diffusers calls this right after.
    """
    if _STATE["quiet"]:
        from diffusers.utils import logging as diffusers_logging

        diffusers_logging.disable_progress_bar()


def show_download_progress() -> None:
    """Turn the hub's download bars back on (``genlab models --download`` wants them)."""
    from huggingface_hub.utils import enable_progress_bars

    enable_progress_bars()
