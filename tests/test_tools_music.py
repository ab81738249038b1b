"""generate_music on the tiny MusicGen, loaded through the runtime; WAVs read back with `wave`."""

from __future__ import annotations

import re
import wave
from pathlib import Path

import pytest

from genlab.tools import compose_music, generate_music
from genlab.tools.music import audio_tokens_for

NAME = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}-[a-z0-9-]{1,40}\.wav$")
FRAME_S = 0.02  # the tiny model's codec: 50 frames per second


@pytest.fixture
def out_dir(tiny_env, tmp_path, monkeypatch) -> Path:
    from genlab.settings import get_settings

    folder = tmp_path / "outputs"
    monkeypatch.setenv("GENLAB_OUTPUT_DIR", str(folder))
    get_settings.cache_clear()
    return folder


@pytest.fixture(scope="session")
def music_with_codebooks(tiny_models) -> str:
    """The tiny MusicGen (its codebooks are random, so the audio depends on the sampled tokens)."""
    return str(tiny_models.music)


def read_wav(path: Path) -> tuple[int, int, int, bytes]:
    with wave.open(str(path), "rb") as wav:
        return wav.getframerate(), wav.getnchannels(), wav.getsampwidth(), wav.readframes(wav.getnframes())


def test_tool_writes_a_wav_of_the_requested_length(out_dir, tiny_env) -> None:
    result = generate_music.invoke({"prompt": "calm lo-fi piano", "duration_s": 0.2, "seed": 1})
    assert set(result) == {"path", "sampling_rate", "duration_s", "model", "prompt", "seed"}
    assert result["model"] == str(tiny_env.music) and result["prompt"] == "calm lo-fi piano"
    path = Path(result["path"])
    assert path.parent == out_dir.resolve() and NAME.match(path.name)
    rate, channels, width, frames = read_wav(path)
    assert rate == result["sampling_rate"] == 16000
    assert (channels, width) == (1, 2)
    seconds = len(frames) / (2 * rate)
    assert seconds == pytest.approx(result["duration_s"], abs=1e-3)
    assert seconds == pytest.approx(0.2, abs=FRAME_S)


@pytest.mark.parametrize("duration", [0.1, 0.34])
def test_duration_is_converted_with_the_frame_rate(out_dir, duration: float) -> None:
    result = compose_music("drums", duration_s=duration, seed=2)
    assert result.duration_s == pytest.approx(duration, abs=FRAME_S)


def test_token_count_accounts_for_musicgen_delay_pattern() -> None:
    assert audio_tokens_for(8.0, 50, 4) == 403  # musicgen-small: 400 frames + 3 delayed codebooks
    assert audio_tokens_for(0.2, 50, 2) == 11
    assert audio_tokens_for(0.001, 50, 1) == 1


def test_same_seed_gives_the_same_audio_and_another_seed_does_not(out_dir, music_with_codebooks) -> None:
    model = music_with_codebooks
    first = compose_music("a jazzy bass line", duration_s=0.2, seed=11, model=model)
    again = compose_music("a jazzy bass line", duration_s=0.2, seed=11, model=model)
    other = compose_music("a jazzy bass line", duration_s=0.2, seed=12, model=model)
    assert read_wav(first.path) == read_wav(again.path)
    assert read_wav(first.path)[3] != read_wav(other.path)[3]
    assert first.seed == 11


def test_a_random_seed_is_reported_and_reproduces(out_dir, music_with_codebooks) -> None:
    first = compose_music("birdsong", duration_s=0.1, model=music_with_codebooks)
    again = compose_music("birdsong", duration_s=0.1, seed=first.seed, model=music_with_codebooks)
    assert read_wav(again.path) == read_wav(first.path)


@pytest.mark.parametrize("prompt", ["../../../tmp/evil", "/", "ambient " * 100, "ピアノの曲 ♪"])
def test_prompts_cannot_place_files_outside_the_folder(out_dir, prompt: str) -> None:
    result = compose_music(prompt, duration_s=0.1, seed=3)
    assert result.path.parent == out_dir.resolve()
    assert NAME.match(result.path.name), result.path.name
    assert [p.name for p in out_dir.iterdir()] == [result.path.name]


def test_progress_reports_audio_tokens(out_dir) -> None:
    seen: list[tuple[int, int]] = []
    compose_music("strings", duration_s=0.1, seed=4, progress=lambda done, total: seen.append((done, total)))
    total = audio_tokens_for(0.1, 50, 2)
    assert seen[-1] == (total, total)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert len(seen) >= total


def test_ctrl_c_during_generation_leaves_no_file(out_dir) -> None:
    def interrupt(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        compose_music("interrupted", duration_s=0.2, seed=5, progress=interrupt)
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


def test_stereo_audio_is_written_interleaved(tmp_path) -> None:
    import numpy as np

    from genlab.tools.music import write_wav

    left = np.linspace(-1, 1, 100, dtype=np.float32)
    with open(tmp_path / "s.wav", "wb") as handle:
        frames = write_wav(handle, np.stack([left, -left]), 8000)
    rate, channels, width, data = read_wav(tmp_path / "s.wav")
    pcm = np.frombuffer(data, dtype="<i2").reshape(-1, 2)
    assert (frames, rate, channels, width) == (100, 8000, 2, 2)
    assert pcm[0].tolist() == [-32767, 32767] and pcm[-1].tolist() == [32767, -32767]
