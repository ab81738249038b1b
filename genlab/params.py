"""The parameters of the image and music generators, declared once.

:class:`ImageInput` and :class:`MusicInput` are the argument schemas of the ``generate_image``
and ``generate_music`` tools. Everything else that takes these parameters derives from them:
the plain functions behind the tools validate with them, the chains' ``ImageOptions`` and
``MusicOptions`` subclass :class:`ImageSettings` and :class:`MusicSettings`, and the CLI's
options and the web UI's fields take their defaults and help text from them. Each field's
description states what it allows; it is also the tail of every error about that field.

Pure pydantic, no LangChain: ``genlab --help`` reads these without importing the tools
(``import genlab.tools`` costs about 0.7 s, the whole ``--help`` 0.1 s).
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from pydantic import BaseModel, Field

#: Longest prompt the image and music tools take. CLIP and T5 text encoders read only the
#: first few dozen tokens, so a longer "prompt" is almost always a mistake.
MAX_PROMPT_CHARS = 2000
#: JSON-schema pattern of every text argument: at least one non-whitespace character.
NOT_BLANK = r"\S"
#: Largest seed the generators take.
SEED_MAX = 2**32 - 1
#: Longest music clip in seconds.
MAX_DURATION_S = 60.0

Prompt = Annotated[str, Field(min_length=1, max_length=MAX_PROMPT_CHARS, pattern=NOT_BLANK)]
"""A generator's prompt: some non-whitespace text, at most ``MAX_PROMPT_CHARS`` characters."""
NegativePrompt = Annotated[
    str, Field(max_length=MAX_PROMPT_CHARS, description="What to keep out of the image, e.g. 'blurry, text'.")
]
"""What to keep out of a picture (its default differs between the tool and the story chains)."""
Seed = Annotated[int | None, Field(ge=0, le=SEED_MAX)]
"""A sampling seed, or None for a random one (chosen and reported)."""


def random_seed() -> int:
    """A seed for a generation that was given none (reported, so it can be used again)."""
    return secrets.randbelow(SEED_MAX + 1)


class ImageSettings(BaseModel):
    """How ``generate_image`` draws: its arguments but the prompt and the number of images."""

    negative_prompt: NegativePrompt = ""
    width: int = Field(
        default=512, ge=64, le=2048, multiple_of=8, description="Width in pixels: a multiple of 8 from 64 to 2048."
    )
    height: int = Field(
        default=512, ge=64, le=2048, multiple_of=8, description="Height in pixels: a multiple of 8 from 64 to 2048."
    )
    steps: int = Field(default=25, ge=1, le=200, description="Denoising steps from 1 to 200; more is slower and finer.")
    guidance_scale: float = Field(
        default=7.5, ge=0.0, le=30.0, description="How closely to follow the prompt, from 0 to 30 (7.5 is typical)."
    )
    seed: Seed = Field(default=None, description="Random seed from 0 to 4294967295; the same seed gives the same image.")


class _ImagePrompt(BaseModel):
    prompt: Prompt = Field(description="What to draw, in English: subject, style, lighting, composition.")


# pydantic lists the fields of the last base class first, so the prompt is the first field:
# a tool called with a plain string fills its first field.
class ImageInput(ImageSettings, _ImagePrompt):
    """Arguments of ``generate_image``: the prompt, the settings, the number of images."""

    num_images: int = Field(default=1, ge=1, le=8, description="How many images to draw, from 1 to 8.")


class MusicSettings(BaseModel):
    """How ``generate_music`` composes: its arguments but the prompt."""

    duration_s: float = Field(default=8.0, gt=0.0, le=MAX_DURATION_S, description="Length in seconds: more than 0, at most 60.")
    seed: Seed = Field(default=None, description="Random seed from 0 to 4294967295; the same seed gives the same clip.")


class _MusicPrompt(BaseModel):
    prompt: Prompt = Field(description="The music to make: genre, instruments, mood, tempo (e.g. 'calm lo-fi piano, 80 bpm').")


class MusicInput(MusicSettings, _MusicPrompt):
    """Arguments of ``generate_music``: the prompt and the settings."""


def describe(schema: type[BaseModel], name: str) -> str:
    """The description of field ``name`` of ``schema``: what it is and what it allows (help text)."""
    return schema.model_fields[name].description or ""


def default(schema: type[BaseModel], name: str) -> Any:
    """The default of field ``name`` of ``schema`` (a CLI option's or a form field's default)."""
    return schema.model_fields[name].get_default(call_default_factory=True)
