"""Text-to-music: the ``generate_music`` tool and :func:`compose_music` behind it.

Runs MusicGen through the transformers ``text-to-audio`` pipeline. The requested duration
becomes a number of audio tokens from the model's frame rate
(``config.audio_encoder.frame_rate`` frames per second); the result is written as a 16-bit
PCM WAV at the model's sampling rate.
"""

from __future__ import annotations

import threading
import wave
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import BaseModel

from genlab.params import MAX_DURATION_S, SEED_MAX, MusicInput, MusicSettings, random_seed
from genlab.tools.base import GeneratorTool, ProgressCallback, load_generator, validate_input
from genlab.tools.files import output_batch

__all__ = [
    "MAX_DURATION_S",
    "SEED_MAX",
    "GenerateMusicTool",
    "MusicInput",
    "MusicResult",
    "MusicSettings",
    "audio_tokens_for",
    "compose_music",
    "generate_music",
    "write_wav",
]

# Sampling draws from torch's global random generator; seeding it is only reproducible
# if no other generation runs in between, and the shared model is not re-entrant anyway.
_GENERATION_LOCK = threading.Lock()


class MusicResult(BaseModel):
    """What :func:`compose_music` returns."""

    path: Path
    sampling_rate: int
    duration_s: float
    """Length of the written audio (a frame of the codec is the unit, so it can differ from the request by a few ms)."""
    model: str
    prompt: str
    seed: int
    """Seed the clip was sampled with: pass it back to make the same clip."""


def audio_tokens_for(duration_s: float, frame_rate: float, num_codebooks: int) -> int:
    """Return ``max_new_tokens`` that makes MusicGen produce ``duration_s`` seconds.

    MusicGen offsets codebook ``k`` by ``k`` steps (the delay pattern), so ``n`` generated
    steps decode to ``n + 1 - num_codebooks`` audio frames.
    """
    frames = max(1, round(duration_s * frame_rate))
    return frames + max(num_codebooks - 1, 0)


def compose_music(
    prompt: str,
    duration_s: float = 8.0,
    seed: int | None = None,
    *,
    model: str | None = None,
    out_dir: str | Path | None = None,
    progress: ProgressCallback | None = None,
) -> MusicResult:
    """Generate a music clip for ``prompt`` and save it as a WAV file in ``out_dir``.

    The arguments before ``model`` are the fields of :class:`~genlab.params.MusicInput`, with
    its defaults; its field descriptions say what each allows.

    Args:
        prompt: The music to make: genre, instruments, mood.
        duration_s: Length in seconds.
        seed: Sampling seed; a random one is chosen and reported when omitted.
        model: Hub id or folder overriding the configured music model.
        out_dir: Folder for the WAV; defaults to ``get_settings().outputs``.
        progress: Called as ``progress(done, total)`` after each generated audio token.

    Returns:
        The saved file with its sampling rate and duration, the model, prompt and seed.

    Raises:
        ToolInputError: An argument is outside what is allowed (checked before loading).
        ModelUnavailableError: The music model cannot be loaded.
    """
    request = validate_input(MusicInput, dict(prompt=prompt, duration_s=duration_s, seed=seed))
    import numpy as np
    import torch

    model_id, folder, pipe = load_generator("music", model, out_dir)
    config = pipe.model.config
    num_codebooks = getattr(config.decoder, "num_codebooks", 1)
    tokens = audio_tokens_for(request.duration_s, config.audio_encoder.frame_rate, num_codebooks)
    clip_seed = request.seed if request.seed is not None else random_seed()
    forward: dict[str, Any] = {"max_new_tokens": tokens, "do_sample": True}  # greedy MusicGen loops one bar
    if progress is not None:
        forward["stopping_criteria"] = [_progress_criterion(progress, tokens)]
    with _GENERATION_LOCK, torch.random.fork_rng():
        torch.manual_seed(clip_seed)
        output = pipe(request.prompt, forward_params=forward)
    audio = np.asarray(output["audio"], dtype=np.float32)
    rate = int(output["sampling_rate"])
    with output_batch(folder) as batch:
        pending = batch.reserve(request.prompt, ".wav")
        with pending.open() as handle:
            frames = write_wav(handle, audio, rate)
    return MusicResult(
        path=pending.path,
        sampling_rate=rate,
        duration_s=round(frames / rate, 3),
        model=model_id,
        prompt=request.prompt,
        seed=clip_seed,
    )


def write_wav(handle: BinaryIO, audio: Any, sampling_rate: int) -> int:
    """Write float audio in [-1, 1] as 16-bit PCM WAV; returns the number of frames.

    Args:
        handle: A binary file open for writing.
        audio: Shape ``(samples,)`` for mono or ``(channels, samples)``.
        sampling_rate: Samples per second.
    """
    import numpy as np

    samples = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2")
    with wave.open(handle, "wb") as out:  # leaves `handle` open: wave closes only files it opened
        out.setnchannels(pcm.shape[0])
        out.setsampwidth(2)
        out.setframerate(sampling_rate)
        out.writeframes(np.ascontiguousarray(pcm.T).tobytes())
    return int(pcm.shape[1])


def _progress_criterion(progress: ProgressCallback, total: int) -> Any:
    """A stopping criterion that never stops and reports each generated step.

    MusicGen's ``generate`` (transformers 5) does not pass a ``streamer`` on to its
    sampling loop, but stopping criteria run after every step of any ``generate``.
    """
    import torch
    from transformers import StoppingCriteria

    class ReportProgress(StoppingCriteria):
        def __init__(self) -> None:
            self.steps = 0

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            self.steps += 1
            progress(min(self.steps, total), total)
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    return ReportProgress()


class GenerateMusicTool(GeneratorTool):
    """The ``generate_music`` tool; ``model`` and ``out_dir`` override the settings."""

    name: str = "generate_music"
    description: str = (
        "Compose a short instrumental music clip from a text description with a local MusicGen model "
        "and save it as a WAV file. Use it when the user asks for music, a soundtrack, a jingle or a "
        "melody (not for speech or sung lyrics). Describe genre, instruments, mood and tempo in "
        f"`prompt`; `duration_s` is at most {MAX_DURATION_S:g} seconds. Returns the file path, duration and sampling rate."
    )
    args_schema: type[BaseModel] = MusicInput

    def _generate(self, **kwargs: Any) -> MusicResult:
        return compose_music(**kwargs, model=self.model, out_dir=self.out_dir)


generate_music = GenerateMusicTool()
"""The ``generate_music`` LangChain tool (configured model and output folder)."""
