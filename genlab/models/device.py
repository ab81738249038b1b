"""Device and dtype resolution.

``auto`` picks the best accelerator present: CUDA, then Apple's MPS, then the CPU. Half
precision halves memory and is fast on GPUs, but many CPU kernels lack it, so ``auto``
means float16 on a GPU and float32 on the CPU.
"""

from __future__ import annotations

from typing import Any


def resolve_device(device: str = "auto") -> str:
    """Return a concrete torch device string for a configured device.

    Args:
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.

    Returns:
        ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
    """
    import torch

    device = device.strip().lower()
    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


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
