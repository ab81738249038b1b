"""Text-to-image: the ``generate_image`` tool and :func:`generate_images` behind it.

Runs the configured diffusers pipeline (``AutoPipelineForText2Image``, Stable Diffusion 1.5
by default) and saves PNGs whose text metadata records prompt, seed, steps and model, so
any image can be made again: the same seed and settings give the same image.
"""

from __future__ import annotations

import inspect
import secrets
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator

from genlab.errors import GenerationCancelled
from genlab.tools.base import MAX_PROMPT_CHARS, NOT_BLANK, GenlabTool, ProgressCallback, require_text, validate_input
from genlab.tools.files import ensure_output_dir, output_batch

SEED_MAX = 2**32 - 1

# A diffusers pipeline keeps per-call state (the scheduler's timesteps), so two threads
# must not run the shared pipeline at the same time.
_PIPELINE_LOCK = threading.Lock()


class ImageInput(BaseModel):
    """Arguments of ``generate_image``."""

    prompt: str = Field(
        min_length=1,
        max_length=MAX_PROMPT_CHARS,
        description="What to draw, in English: subject, style, lighting, composition.",
        pattern=NOT_BLANK,
    )
    negative_prompt: str = Field(
        default="", max_length=MAX_PROMPT_CHARS, description="What to keep out of the image, e.g. 'blurry, text'."
    )
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
    seed: int | None = Field(
        default=None, ge=0, le=SEED_MAX, description="Random seed from 0 to 4294967295; the same seed gives the same image."
    )
    num_images: int = Field(default=1, ge=1, le=8, description="How many images to draw, from 1 to 8.")

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, value: str) -> str:
        return require_text(value, "prompt")


class ImageFile(BaseModel):
    """One saved image."""

    path: Path
    width: int
    height: int
    seed: int
    """Seed of this image: pass it back with the same settings to draw it again."""
    steps: int


class ImageResult(BaseModel):
    """What :func:`generate_images` returns."""

    images: list[ImageFile]
    model: str
    """The model id or folder the images were drawn with."""
    prompt: str
    negative_prompt: str = ""
    guidance_scale: float
    """With the prompt, the model and each image's size, seed and steps: all it takes to draw it again."""


def generate_images(
    prompt: str,
    negative_prompt: str = "",
    width: int = 512,
    height: int = 512,
    steps: int = 25,
    guidance_scale: float = 7.5,
    seed: int | None = None,
    num_images: int = 1,
    *,
    model: str | None = None,
    out_dir: str | Path | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> ImageResult:
    """Draw images for ``prompt`` and save them as PNGs in ``out_dir``.

    Image ``i`` uses seed ``seed + i`` (mod 2**32) and is drawn on its own, so drawing it
    again alone with that seed gives the same picture. Without ``seed`` a random one is
    chosen and reported.

    Args:
        prompt: What to draw.
        negative_prompt: What to keep out of the image.
        width: Width in pixels, a multiple of 8 from 64 to 2048.
        height: Height in pixels, a multiple of 8 from 64 to 2048.
        steps: Denoising steps, 1 to 200.
        guidance_scale: Classifier-free guidance, 0 to 30.
        seed: Seed of the first image, 0 to 2**32-1.
        num_images: How many images, 1 to 8.
        model: Hub id or folder overriding the configured image model.
        out_dir: Folder for the PNGs; defaults to ``get_settings().outputs``.
        progress: Called as ``progress(done, total)`` after each denoising step.
        cancel: Set it (from another thread, a signal handler, a UI's stop button) to stop at
            the end of the current denoising step; nothing is written.

    Returns:
        The saved files with their size and seed, the model and the prompt.

    Raises:
        GenerationCancelled: ``cancel`` was set.
        ToolInputError: An argument is outside what is allowed (checked before loading).
        ModelUnavailableError: The image model cannot be loaded.
    """
    request = validate_input(
        ImageInput,
        dict(
            prompt=prompt,
            negative_prompt=negative_prompt,
            width=width,
            height=height,
            steps=steps,
            guidance_scale=guidance_scale,
            seed=seed,
            num_images=num_images,
        ),
    )
    import torch

    from genlab.models import get_model, get_runtime
    from genlab.settings import get_settings

    model_id = model or get_settings().model_for("image")
    # Check the model's config and the output folder before loading weights and generating:
    # a bad folder must fail in a second, not after minutes of generation.
    get_runtime().key_for("image", model)
    out_dir = ensure_output_dir(out_dir)
    pipe = get_model("image", model)
    first_seed = request.seed if request.seed is not None else secrets.randbelow(SEED_MAX + 1)
    seeds = [(first_seed + i) % (SEED_MAX + 1) for i in range(request.num_images)]
    total = request.steps * request.num_images
    pictures = []
    with _PIPELINE_LOCK:
        for index, image_seed in enumerate(seeds):
            # A CPU generator makes the starting noise, and so the image, the same on every device.
            kwargs: dict[str, Any] = dict(
                prompt=request.prompt,
                negative_prompt=request.negative_prompt or None,
                width=request.width,
                height=request.height,
                num_inference_steps=request.steps,
                guidance_scale=request.guidance_scale,
                generator=torch.Generator(device="cpu").manual_seed(image_seed),
                output_type="pil",
            )
            if (progress is not None or cancel is not None) and _accepts(pipe, "callback_on_step_end"):
                kwargs["callback_on_step_end"] = _step_callback(progress, index * request.steps, total, cancel)
            pictures.append(pipe(**kwargs).images[0])
    files = []
    with output_batch(out_dir) as batch:
        for picture, image_seed in zip(pictures, seeds, strict=False):
            pending = batch.reserve(request.prompt, ".png")
            info = _png_text(request, image_seed, model_id)
            with pending.open() as handle:
                picture.save(handle, format="PNG", pnginfo=info)
            files.append(
                ImageFile(path=pending.path, width=picture.width, height=picture.height, seed=image_seed, steps=request.steps)
            )
    return ImageResult(
        images=files,
        model=model_id,
        prompt=request.prompt,
        negative_prompt=request.negative_prompt,
        guidance_scale=request.guidance_scale,
    )


def _accepts(pipe: Any, parameter: str) -> bool:
    return parameter in inspect.signature(pipe.__call__).parameters


def _step_callback(progress: ProgressCallback | None, offset: int, total: int, cancel: threading.Event | None) -> Any:
    def on_step_end(pipe: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
        # diffusers' own stop switch (``pipe._interrupt``) is private; raising from the public
        # step callback stops the loop at the end of this step just the same.
        if cancel is not None and cancel.is_set():
            raise GenerationCancelled(f"stopped after {offset + step + 1} of {total} steps")
        if progress is not None:
            progress(offset + step + 1, total)
        return callback_kwargs

    return on_step_end


def _png_text(request: ImageInput, seed: int, model_id: str) -> Any:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    fields = {
        "prompt": request.prompt,
        "negative_prompt": request.negative_prompt,
        "seed": seed,
        "steps": request.steps,
        "guidance_scale": request.guidance_scale,
        "width": request.width,
        "height": request.height,
        "model": model_id,
        "software": "genlab",
    }
    for key, value in fields.items():
        info.add_text(key, str(value))  # non-Latin-1 text goes into an iTXt chunk
    return info


class GenerateImageTool(GenlabTool):
    """The ``generate_image`` tool; ``model`` and ``out_dir`` override the settings."""

    name: str = "generate_image"
    description: str = (
        "Draw a picture from a text description with a local Stable Diffusion model and save it "
        "as a PNG file. Use it when the user asks for an image, drawing, illustration or picture. "
        "Describe the subject, style and lighting in English in `prompt`. Returns the saved file "
        "paths with width, height and seed (the same seed and settings redraw the same image)."
    )
    args_schema: type[BaseModel] = ImageInput
    model: str | None = None
    """Hub id or folder of the image model; None uses GENLAB_IMAGE_MODEL."""
    out_dir: Path | None = None
    """Where PNGs go; None uses GENLAB_OUTPUT_DIR."""

    def _execute(self, **kwargs: Any) -> dict[str, Any]:
        result = generate_images(**kwargs, model=self.model, out_dir=self.out_dir)
        return result.model_dump(mode="json")


generate_image = GenerateImageTool()
"""The ``generate_image`` LangChain tool (configured model and output folder)."""
