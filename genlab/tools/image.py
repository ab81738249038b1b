"""Text-to-image: the ``generate_image`` tool and :func:`generate_images` behind it.

Runs the configured diffusers pipeline (``AutoPipelineForText2Image``, Stable Diffusion 1.5
by default) and saves PNGs whose text metadata records prompt, seed, steps and model, so
any image can be made again: the same seed and settings give the same image.
"""

from __future__ import annotations

import inspect
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from genlab.errors import GenerationCancelled
from genlab.params import SEED_MAX, ImageInput, ImageSettings, random_seed
from genlab.tools.base import GeneratorTool, ProgressCallback, load_generator, validate_input
from genlab.tools.files import output_batch

__all__ = [
    "SEED_MAX",
    "GenerateImageTool",
    "ImageFile",
    "ImageInput",
    "ImageResult",
    "ImageSettings",
    "generate_image",
    "generate_images",
]

# A diffusers pipeline keeps per-call state (the scheduler's timesteps), so two threads
# must not run the shared pipeline at the same time.
_PIPELINE_LOCK = threading.Lock()


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

    The arguments before ``model`` are the fields of :class:`~genlab.params.ImageInput`, with
    its defaults; its field descriptions say what each allows.

    Args:
        prompt: What to draw.
        negative_prompt: What to keep out of the image.
        width: Width in pixels.
        height: Height in pixels.
        steps: Denoising steps.
        guidance_scale: Classifier-free guidance.
        seed: Seed of the first image.
        num_images: How many images.
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

    model_id, folder, pipe = load_generator("image", model, out_dir)
    first_seed = request.seed if request.seed is not None else random_seed()
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
    with output_batch(folder) as batch:
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


class GenerateImageTool(GeneratorTool):
    """The ``generate_image`` tool; ``model`` and ``out_dir`` override the settings."""

    name: str = "generate_image"
    description: str = (
        "Draw a picture from a text description with a local Stable Diffusion model and save it "
        "as a PNG file. Use it when the user asks for an image, drawing, illustration or picture. "
        "Describe the subject, style and lighting in English in `prompt`. Returns the saved file "
        "paths with width, height and seed (the same seed and settings redraw the same image)."
    )
    args_schema: type[BaseModel] = ImageInput

    def _generate(self, **kwargs: Any) -> ImageResult:
        return generate_images(**kwargs, model=self.model, out_dir=self.out_dir)


generate_image = GenerateImageTool()
"""The ``generate_image`` LangChain tool (configured model and output folder)."""
