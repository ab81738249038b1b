"""Modality commands: ``image``, ``music``, ``summarize``, ``classify``."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from genlab.cli.app import app
from genlab.cli.common import (
    JsonOption,
    ModelOption,
    OutOption,
    print_json,
    read_text_arg,
    show_progress,
)
from genlab.errors import InvalidInputError
from genlab.params import ImageInput, MusicInput, default, describe


class _ToolsProgress:
    """A progress bar on stderr fed by the tools' ``progress(done, total)`` callbacks."""

    def __init__(self, description: str, enabled: bool) -> None:
        self.description = description
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _ToolsProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    @property
    def callback(self) -> Any:
        """The ``progress`` argument for the tool, or None when no bar is shown."""
        return self._update if self._bar is not None else None

    def _update(self, done: int, total: int) -> None:
        if self._task is None:
            self._task = self._bar.add_task(self.description, total=total)
        self._bar.update(self._task, completed=done, total=total)


@contextlib.contextmanager
def _cancel_on_ctrl_c() -> Iterator[threading.Event]:
    """Ctrl-C sets an event the diffusion loop checks after each step; a second Ctrl-C stops at once.

    A diffusion step on a large image is seconds of one C call; the event makes the pipeline
    stop at the end of the step under way (`GenerationCancelled`), through its public
    ``callback_on_step_end``, and nothing half-drawn is written.
    """
    cancel = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield cancel  # signal handlers can only be set from the main thread (in-process tests)
        return

    def on_sigint(signum: int, frame: Any) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield cancel
    finally:
        signal.signal(signal.SIGINT, previous)


def _read_summary_input(file: str | None) -> str:
    """The text to summarize: FILE, or stdin for ``-`` or no FILE (refusing an interactive stdin)."""
    from genlab.settings import get_settings

    limit = get_settings().max_input_chars
    if file is None or file == "-":
        if file is None and sys.stdin.isatty():
            raise InvalidInputError("give a FILE to summarize, or pipe text in (`genlab summarize - < notes.txt`)")
        return read_text_arg("-", what="text to summarize")
    path = Path(file).expanduser()
    try:
        with path.open(encoding="utf-8-sig") as handle:  # -sig: a BOM is not part of the text
            return handle.read(limit + 1)  # one more than allowed, so the tool reports the size limit
    except FileNotFoundError:
        raise InvalidInputError(f"no such file: {file}") from None
    except IsADirectoryError:
        raise InvalidInputError(f"{file} is a folder; give a text file") from None
    except UnicodeDecodeError:
        raise InvalidInputError(f"{file} is not UTF-8 text") from None
    except PermissionError:
        raise InvalidInputError(f"{file} cannot be read: permission denied") from None


@app.command("image")
def image_command(
    prompt: Annotated[str, typer.Argument(help=describe(ImageInput, "prompt"))],
    negative_prompt: Annotated[str, typer.Option("--negative-prompt", help=describe(ImageInput, "negative_prompt"))] = default(
        ImageInput, "negative_prompt"
    ),
    width: Annotated[int, typer.Option("--width", help=describe(ImageInput, "width"))] = default(ImageInput, "width"),
    height: Annotated[int, typer.Option("--height", help=describe(ImageInput, "height"))] = default(ImageInput, "height"),
    steps: Annotated[int, typer.Option("--steps", help=describe(ImageInput, "steps"))] = default(ImageInput, "steps"),
    guidance: Annotated[float, typer.Option("--guidance", help=describe(ImageInput, "guidance_scale"))] = default(
        ImageInput, "guidance_scale"
    ),
    seed: Annotated[int | None, typer.Option("--seed", help=describe(ImageInput, "seed") + " Default: random, printed.")] = None,
    num_images: Annotated[int, typer.Option("--num-images", help=describe(ImageInput, "num_images"))] = default(
        ImageInput, "num_images"
    ),
    out: OutOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Draw images from a text prompt (Stable Diffusion); PNGs record prompt, seed and model."""
    from genlab.tools.image import generate_images

    with _ToolsProgress("drawing", show_progress(json_output)) as bar, _cancel_on_ctrl_c() as cancel:
        result = generate_images(
            prompt,
            negative_prompt=negative_prompt,
            width=width,
            height=height,
            steps=steps,
            guidance_scale=guidance,
            seed=seed,
            num_images=num_images,
            model=model,
            out_dir=out,
            progress=bar.callback,
            cancel=cancel,
        )
    if json_output:
        print_json(result.model_dump(mode="json"))  # everything needed to draw the same images again
        return
    for image in result.images:
        print(f"{image.path}  ({image.width}x{image.height}, seed {image.seed}, {image.steps} steps)")


@app.command("music")
def music_command(
    prompt: Annotated[str, typer.Argument(help=describe(MusicInput, "prompt"))],
    duration: Annotated[float, typer.Option("--duration", help=describe(MusicInput, "duration_s"))] = default(
        MusicInput, "duration_s"
    ),
    seed: Annotated[int | None, typer.Option("--seed", help=describe(MusicInput, "seed") + " Default: random, printed.")] = None,
    out: OutOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Compose a music clip from a text prompt (MusicGen) and save it as a WAV file."""
    from genlab.tools.music import compose_music

    with _ToolsProgress("composing", show_progress(json_output)) as bar:
        result = compose_music(prompt, duration_s=duration, seed=seed, model=model, out_dir=out, progress=bar.callback)
    if json_output:
        print_json(result.model_dump(mode="json"))  # everything needed to make the same clip again
        return
    print(f"{result.path}  ({result.duration_s:.2f} s at {result.sampling_rate} Hz, seed {result.seed})")


@app.command("summarize")
def summarize_command(
    file: Annotated[str | None, typer.Argument(help="A UTF-8 text file, or - for stdin (the default when piped).")] = None,
    max_words: Annotated[int | None, typer.Option("--max-words", help="Longest summary in words, 5 to 1000.")] = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Summarize a text file or stdin; long texts are summarized in parts, never cut off."""
    text = _read_summary_input(file)
    from genlab.tools.summarization import summarize_text

    summary = summarize_text(text, max_words=max_words, model=model)
    if json_output:
        print_json({"summary": summary})
    else:
        print(summary)


@app.command("classify")
def classify_command(
    text: Annotated[str, typer.Argument(help="The text to classify, or - to read it from stdin.")],
    labels: Annotated[str, typer.Option("--labels", help="Comma-separated candidate labels, e.g. positive,negative.")],
    multi_label: Annotated[bool, typer.Option("--multi-label", help="Score each label on its own (several may apply).")] = False,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Classify a text into the given labels with a zero-shot (NLI) model; best label first."""
    from genlab.tools.classification import classify_zero_shot_text

    text = read_text_arg(text)
    result = classify_zero_shot_text(text, labels.split(","), multi_label=multi_label, model=model)
    if json_output:
        print_json(result.model_dump())
        return
    width = max(len(label) for label in result.labels)
    for label, score in zip(result.labels, result.scores, strict=False):
        print(f"{label:<{width}}  {score:.3f}")
