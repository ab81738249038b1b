"""Device and dtype resolution.

``auto`` picks the best accelerator present: CUDA, then Apple's MPS, then the CPU. Half
precision halves memory and is fast on GPUs, but many CPU kernels lack it, so ``auto``
means float16 on a GPU and float32 on the CPU.
"""

from __future__ import annotations

import re
from typing import Any

from genlab.errors import ConfigError, shown


def resolve_device(device: str = "auto") -> str:
    """Return a concrete torch device string for a configured device.

    Args:
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.

    Returns:
        ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.

    Raises:
        ConfigError: The device is not one of those, or this machine does not have it
            (``cuda`` without a CUDA GPU or a CUDA build of torch, ``cuda:3`` with two GPUs,
            ``mps`` off Apple silicon).
    """
    import torch

    device = device.strip().lower()
    setting = f"GENLAB_DEVICE={shown(device)} (or device in genlab.toml)"
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    if device == "cpu":
        return device
    here = ", ".join(available_devices())
    if device == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ConfigError(f"{setting}: this machine has no Apple MPS device; devices here: {here}")
        return device
    match = re.fullmatch(r"cuda(?::(\d+))?", device)
    if match is None:
        raise ConfigError(f"{setting} is not a device; use auto, cpu, cuda, cuda:N or mps")
    if not torch.cuda.is_available():
        why = "torch was built without CUDA" if torch.version.cuda is None else "no CUDA GPU is visible"
        raise ConfigError(f"{setting}: this machine cannot use CUDA ({why}); devices here: {here}")
    index = int(match.group(1) or 0)
    if index >= torch.cuda.device_count():
        raise ConfigError(f"{setting}: there is no GPU {index}; devices here: {here}")
    return device


def available_devices() -> list[str]:
    """Return the device settings that work on this machine (``auto`` and ``cpu`` always do)."""
    import torch

    found = ["auto", "cpu"]
    if torch.cuda.is_available():
        found += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return found


def resolve_dtype(dtype: str = "auto", device: str = "cpu") -> Any:
    """Return the ``torch.dtype`` to load weights in.

    Args:
        dtype: ``auto``, ``float32``, ``float16`` or ``bfloat16``.
        device: The resolved device the model will run on.
    """
    import torch

    if dtype == "auto":
        return torch.float32 if device == "cpu" else torch.float16
    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]
