"""The Studio tab: the modality tools one at a time, as ``genlab image | music | summarize | classify``.

Each panel calls one public function of :mod:`genlab.tools`; their ``progress(done, total)``
callbacks drive ``gr.Progress`` (diffusion steps, audio tokens). The limits shown under each
field are the tools' own field descriptions, so the page says what the tool checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image

from genlab.errors import InvalidInputError
from genlab.params import ImageInput, MusicInput, default, describe
from genlab.settings import get_settings
from genlab.tools.classification import ZeroShotInput
from genlab.tools.summarization import SummarizeInput
from genlab.ui.errors import shows_errors


def _reporter(progress: Any, desc: str, unit: str) -> Any:
    def report(done: int, total: int) -> None:
        progress((done, total), desc=desc, unit=unit)

    return report


def png_metadata(path: str | Path) -> dict[str, str]:
    """The text fields of a PNG (genlab writes prompt, seed, steps, model... into them)."""
    with Image.open(path) as picture:
        return dict(getattr(picture, "text", {}) or {})


@shows_errors
def image(
    prompt: str,
    negative_prompt: str,
    width: float | None,
    height: float | None,
    steps: float | None,
    guidance_scale: float | None,
    seed: float | None,
    num_images: float | None,
    progress: Any = gr.Progress(),  # noqa: B008 - Gradio finds its progress tracker by this default
) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """Draw images (``/image``); returns the gallery (path, caption) and the PNGs' metadata."""
    from genlab.tools.image import generate_images

    result = generate_images(
        prompt or "",
        negative_prompt=negative_prompt or "",
        width=_whole(width),
        height=_whole(height),
        steps=_whole(steps),
        guidance_scale=float(guidance_scale) if guidance_scale is not None else default(ImageInput, "guidance_scale"),
        seed=_whole(seed),
        num_images=_whole(num_images),
        progress=_reporter(progress, "denoising", "steps"),
    )
    gallery = [(str(f.path), f"seed {f.seed}, {f.width}x{f.height}, {f.steps} steps") for f in result.images]
    metadata = {f.path.name: png_metadata(f.path) for f in result.images}
    return gallery, metadata


@shows_errors
def music(
    prompt: str,
    duration_s: float | None,
    seed: float | None,
    progress: Any = gr.Progress(),  # noqa: B008
) -> tuple[str, dict[str, Any]]:
    """Compose a clip (``/music``); returns the WAV's path and what it was made with."""
    from genlab.tools.music import compose_music

    report = _reporter(progress, "composing", "audio tokens")
    result = compose_music(prompt or "", duration_s=float(duration_s or 0), seed=_whole(seed), progress=report)
    return str(result.path), result.model_dump(mode="json")


def _whole(value: float | None) -> Any:
    """A widget's number as the tools take it: Gradio sliders and boxes send floats (``2.0``),
    and the tools validate strictly (a float is not a step count). A fractional value is
    passed on as it is, for the tool to refuse with its own message."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def _read_upload(file: str | None) -> str:

    path = Path(file)  # type: ignore[arg-type]
    limit = get_settings().max_input_chars
    try:
        with path.open(encoding="utf-8") as handle:
            return handle.read(limit + 1)  # one more than allowed, so the tool reports the size limit
    except UnicodeDecodeError:
        raise InvalidInputError(f"{path.name} is not UTF-8 text; upload a .txt or .md file") from None


@shows_errors
def summarize(text: str, file: str | None, max_words: float | None) -> str:
    """Summarize the text, or the uploaded file when there is one (``/summarize``)."""
    from genlab.tools.summarization import summarize_text

    if file:
        if (text or "").strip():
            raise InvalidInputError("give a text or a file to summarize, not both")
        text = _read_upload(file)
    return summarize_text(text or "", max_words=None if max_words is None else int(max_words))


@shows_errors
def classify(text: str, labels: str, multi_label: bool) -> dict[str, float]:
    """Score comma-separated ``labels`` for ``text`` (``/classify``); best label first."""
    from genlab.tools.classification import classify_zero_shot_text

    result = classify_zero_shot_text(text or "", (labels or "").split(","), multi_label=multi_label)
    return dict(zip(result.labels, result.scores, strict=True))


def build() -> dict[str, Any]:
    """Lay out the Studio tab (image, music, summarize, classify) inside the current ``gr.Blocks``."""
    parts: dict[str, Any] = {}
    with gr.Tab("Image"):
        with gr.Row():
            with gr.Column(scale=2):
                prompt = gr.Textbox(label="Prompt", info=describe(ImageInput, "prompt"), lines=2, elem_id="image-prompt")
                negative = gr.Textbox(label="Negative prompt", info=describe(ImageInput, "negative_prompt"))
                with gr.Row():
                    width = gr.Number(
                        default(ImageInput, "width"), label="Width", precision=0, info=describe(ImageInput, "width")
                    )
                    height = gr.Number(
                        default(ImageInput, "height"), label="Height", precision=0, info=describe(ImageInput, "height")
                    )
                with gr.Row():
                    steps = gr.Number(
                        default(ImageInput, "steps"), label="Steps", precision=0, info=describe(ImageInput, "steps")
                    )
                    guidance = gr.Number(
                        default(ImageInput, "guidance_scale"), label="Guidance", info=describe(ImageInput, "guidance_scale")
                    )
                with gr.Row():
                    seed = gr.Number(None, label="Seed", precision=0, info="Empty: a random seed, shown under the image.")
                    count = gr.Number(
                        default(ImageInput, "num_images"), label="Count", precision=0, info=describe(ImageInput, "num_images")
                    )
                draw = gr.Button("Generate image", variant="primary")
            with gr.Column(scale=3):
                gallery = gr.Gallery(label="Images", elem_id="image-gallery", columns=2, height=420)
                metadata = gr.JSON(label="PNG metadata")
        gr.on(
            triggers=[draw.click, prompt.submit],
            fn=image,
            inputs=[prompt, negative, width, height, steps, guidance, seed, count],
            outputs=[gallery, metadata],
            api_name="image",
        )
        parts.update(image_prompt=prompt, gallery=gallery)
    with gr.Tab("Music"):
        with gr.Row():
            with gr.Column(scale=2):
                music_prompt = gr.Textbox(label="Music prompt", info=describe(MusicInput, "prompt"), lines=2)
                with gr.Row():
                    duration = gr.Number(
                        default(MusicInput, "duration_s"), label="Duration (s)", info=describe(MusicInput, "duration_s")
                    )
                    music_seed = gr.Number(None, label="Seed", precision=0, info="Empty: a random seed.")
                compose = gr.Button("Generate music", variant="primary")
            with gr.Column(scale=3):
                audio = gr.Audio(label="Music", type="filepath", elem_id="music-audio", interactive=False)
                music_info = gr.JSON(label="Made with")
        gr.on(
            triggers=[compose.click, music_prompt.submit],
            fn=music,
            inputs=[music_prompt, duration, music_seed],
            outputs=[audio, music_info],
            api_name="music",
        )
    with gr.Tab("Summarize"):
        with gr.Row():
            with gr.Column():
                text = gr.Textbox(label="Text to summarize", lines=8, info=describe(SummarizeInput, "text"))
                upload = gr.File(label="Or a text file", file_types=[".txt", ".md"], type="filepath")
                max_words = gr.Number(None, label="Max words", precision=0, info=describe(SummarizeInput, "max_words"))
                summarize_button = gr.Button("Summarize", variant="primary")
            summary = gr.Textbox(label="Summary", lines=8, elem_id="summary", interactive=False)
        summarize_button.click(summarize, inputs=[text, upload, max_words], outputs=summary, api_name="summarize")
    with gr.Tab("Classify"):
        with gr.Row():
            with gr.Column():
                classify_text = gr.Textbox(label="Text to classify", lines=4, info=describe(ZeroShotInput, "text"))
                labels = gr.Textbox(label="Labels", value="positive, negative", info="Comma-separated candidate labels.")
                multi = gr.Checkbox(label="Multi-label", info="Score each label on its own (several may apply).")
                classify_button = gr.Button("Classify", variant="primary")
            scores = gr.Label(label="Scores", elem_id="scores")
        classify_button.click(classify, inputs=[classify_text, labels, multi], outputs=scores, api_name="classify")
    return parts
