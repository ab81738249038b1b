"""LangChain tools for each modality, over local models loaded through the shared runtime.

The tools (``BaseTool`` instances, by these names):

- :data:`summarize` -> ``str``
- :data:`classify_zero_shot` -> ``{"labels": [...], "scores": [...]}``, best first
- :data:`classify_few_shot` -> one of the labels, or ``"unknown"``
- :data:`generate_image` -> ``{"images": [{"path", "width", "height", "seed", "steps"}], "model", "prompt"}``
- :data:`generate_music` -> ``{"path", "sampling_rate", "duration_s", "model", "prompt"}``

Each validates its arguments before loading anything, and returns a bad argument's
message (what is allowed) as its result, so an agent can correct itself. Models load on
first use. The plain functions behind them take an explicit ``model`` (and ``out_dir``,
``progress``) for the CLI and chains: :func:`summarize_text`, :func:`classify_zero_shot_text`,
:func:`classify_few_shot_text`, :func:`generate_images`, :func:`compose_music`.
Generated files are named and written by :mod:`genlab.tools.files`.

Importing this package imports langchain-core and pydantic only; torch, transformers and
diffusers load when a tool first runs.
"""

from __future__ import annotations

from langchain_core.tools import BaseTool

from genlab.tools.base import GenlabTool, ToolInputError
from genlab.tools.classification import (
    FewShotExample,
    ZeroShotResult,
    classify_few_shot,
    classify_few_shot_text,
    classify_zero_shot,
    classify_zero_shot_text,
)
from genlab.tools.image import ImageFile, ImageResult, generate_image, generate_images
from genlab.tools.music import MusicResult, compose_music, generate_music
from genlab.tools.summarization import plan_chunks, summarize, summarize_text

__all__ = [
    "FewShotExample",
    "GenlabTool",
    "ImageFile",
    "ImageResult",
    "MusicResult",
    "ToolInputError",
    "ZeroShotResult",
    "all_tools",
    "classify_few_shot",
    "classify_few_shot_text",
    "classify_zero_shot",
    "classify_zero_shot_text",
    "compose_music",
    "generate_image",
    "generate_images",
    "generate_music",
    "plan_chunks",
    "summarize",
    "summarize_text",
]


def all_tools() -> list[BaseTool]:
    """The five modality tools, in a stable order."""
    return [summarize, classify_zero_shot, classify_few_shot, generate_image, generate_music]
