"""illustrated_story and story_soundtrack end to end: fake LLMs, the tiny image and music models."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from pydantic import Field

from genlab.chains import illustrated_story, story_soundtrack, story_with_media
from genlab.chains.media import clean_media_prompt
from genlab.chains.prompts import COURSE_STORY_EXAMPLE
from genlab.errors import InvalidInputError

INPUTS = dict(COURSE_STORY_EXAMPLE)
SMALL_IMAGE = dict(width=64, height=64, steps=2, seed=7)


class RecordingLLM(FakeListLLM):
    prompts: list[str] = Field(default_factory=list)

    def _call(self, prompt: str, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> str:
        self.prompts.append(prompt)
        return super()._call(prompt, stop, run_manager, **kwargs)


@pytest.mark.slow  # draws; test_batch_draws_only_for_approved_stories keeps a drawing chain fast
def test_illustrated_story_end_to_end(tiny_env, tmp_path: Path) -> None:
    from PIL import Image

    describer = RecordingLLM(
        responses=['**Picture description:** "A brave adventurer holding a glowing crystal, storybook style"\nExtra line.']
    )
    chain = illustrated_story(
        FakeListLLM(responses=["The adventurer found a glowing crystal and shared its light."]),
        FakeListChatModel(responses=["Yes, it is kind."]),
        prompt_llm=describer,
        output_dir=tmp_path,
        **SMALL_IMAGE,
    )
    result = chain.invoke(INPUTS)
    assert result["kid_friendly"] is True
    assert result["story"] == "The adventurer found a glowing crystal and shared its light."
    assert result["image_prompt"] == "A brave adventurer holding a glowing crystal, storybook style"
    # The describer was asked about the approved story.
    assert "The adventurer found a glowing crystal and shared its light." in describer.prompts[0]
    path = Path(result["image_path"])
    assert path.parent == tmp_path.resolve() and path.suffix == ".png"
    with Image.open(path) as image:
        assert image.size == (64, 64)
        assert image.text["prompt"] == result["image_prompt"]
        assert image.text["seed"] == "7" and image.text["steps"] == "2"
        assert "scary" in image.text["negative_prompt"]  # a children's picture keeps scary things out
    assert result["image"]["images"][0]["path"] == result["image_path"]
    assert result["image"]["model"] == str(tiny_env.image)


def test_a_rejected_story_gets_no_picture(tiny_env, tmp_path: Path) -> None:
    describer = RecordingLLM(responses=["a picture"])
    chain = illustrated_story(
        FakeListLLM(responses=["A gory tale."]),
        FakeListLLM(responses=["No. Gore."]),
        prompt_llm=describer,
        output_dir=tmp_path,
        **SMALL_IMAGE,
    )
    result = chain.invoke(INPUTS)
    assert result["kid_friendly"] is False
    assert result["image_path"] is None and result["image_prompt"] is None and result["image"] is None
    assert describer.prompts == [] and list(tmp_path.iterdir()) == []


def test_story_soundtrack_end_to_end(tiny_env, tmp_path: Path) -> None:
    chain = story_soundtrack(
        FakeListLLM(responses=["A gentle tale of a crystal that sings.", "Soft flute and harp, slow and dreamy."]),
        FakeListLLM(responses=['{"kid_friendly": true, "reason": "gentle"}']),
        duration_s=0.2,
        seed=3,
        output_dir=tmp_path,
    )
    result = chain.invoke(INPUTS)
    assert result["kid_friendly"] is True
    assert result["music_prompt"] == "Soft flute and harp, slow and dreamy."
    path = Path(result["audio_path"])
    assert path.parent == tmp_path.resolve() and path.suffix == ".wav"
    with wave.open(str(path)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
    assert seconds == pytest.approx(result["audio"]["duration_s"], abs=1e-3)
    assert result["audio"]["prompt"] == result["music_prompt"]
    assert result["audio"]["model"] == str(tiny_env.music)


def test_batch_draws_only_for_approved_stories_and_falls_back_to_a_prompt(tiny_env, tmp_path: Path) -> None:
    # The first story is approved; the second is rejected. The describer answers with nothing,
    # so the picture is described from the story's variables instead.
    chain = story_with_media(
        FakeListLLM(responses=["A kind tale.", "A cruel tale.", "   "]),
        FakeListLLM(responses=["Yes.", "No, cruel."]),
        image={"width": 64, "height": 64, "steps": 1, "seed": 1},
        music={"duration_s": 0.1, "seed": 1},
        output_dir=tmp_path,
    )
    first, second = chain.batch([dict(INPUTS, character="young girl"), dict(INPUTS, character="ogre")])
    assert first["kid_friendly"] and first["image_path"] and first["audio_path"]
    assert (
        first["image_prompt"]
        == "a young girl with a glowing crystal in a enchanted forest, colourful children's book illustration"
    )
    assert not second["kid_friendly"] and second["image_path"] is None and second["audio_path"] is None
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".png", ".wav"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"width": 65}, "width"),
        ({"steps": 0}, "steps"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_image_settings_are_refused_when_the_chain_is_built(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        illustrated_story(FakeListLLM(responses=["x"]), FakeListLLM(responses=["Yes"]), **kwargs)


def test_bad_music_settings_and_output_folder_are_refused_when_built(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="duration_s"):
        story_soundtrack(FakeListLLM(responses=["x"]), FakeListLLM(responses=["Yes"]), duration_s=120)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(InvalidInputError, match="not a folder"):
        story_soundtrack(FakeListLLM(responses=["x"]), FakeListLLM(responses=["Yes"]), output_dir=a_file)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("A girl with a key", "A girl with a key"),
        ('"A girl with a key."', "A girl with a key."),
        ("Picture description: a castle\nmore", "a castle"),
        ("**Prompt:** a castle", "a castle"),
        ("<think>ok</think>\n\na castle", "a castle"),
        ("", "FALLBACK"),
        ("  \n ", "FALLBACK"),
        ("word " * 100, ("word " * 60).strip()),
    ],
)
def test_clean_media_prompt(answer: str, expected: str) -> None:
    assert clean_media_prompt(answer, "FALLBACK") == expected


def test_the_media_chain_declares_the_fields_it_returns(tiny_env, tmp_path) -> None:
    from langchain_core.language_models import FakeListLLM

    from genlab.chains.media import ImageOptions, story_with_media

    chain = story_with_media(
        FakeListLLM(responses=["A kind tale.", "a hill at dawn"]),
        FakeListLLM(responses=["Yes."]),
        image=ImageOptions(width=64, height=64, steps=2, seed=1),
        output_dir=tmp_path,
    )
    schema = chain.get_output_schema()
    result = chain.invoke(dict(COURSE_STORY_EXAMPLE))
    assert set(result) <= set(schema.model_fields)
    assert {"image_path", "audio_path"} <= set(schema.model_fields)
    schema.model_validate(result)  # the declared model accepts what the chain returns


class BatchCountingLLM(FakeListLLM):
    """Answers from ``answer(prompt)``; records how many prompts each model call got."""

    calls: list[int] = Field(default_factory=list)
    answer: Any = None

    def _generate(self, prompts: list[str], stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Any:
        self.calls.append(len(prompts))
        return super()._generate(prompts, stop=stop, run_manager=run_manager, **kwargs)

    def _call(self, prompt: str, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> str:
        return self.answer(prompt)


def test_a_batch_waits_for_its_rewritten_story_before_describing_the_music(tiny_env, tmp_path: Path) -> None:
    def write(prompt: str) -> str:
        if "music" in prompt.lower():
            return "Soft harp."
        return "A kind tale." if "castle" not in prompt or "Rewrite" in prompt else "A cruel tale in a castle."

    story = BatchCountingLLM(responses=["unused"], answer=write)
    moderator = BatchCountingLLM(responses=["unused"], answer=lambda p: "No, cruel." if "cruel" in p else "Yes.")
    chain = story_soundtrack(story, moderator, max_rewrites=1, duration_s=0.2, seed=1, output_dir=tmp_path)
    inputs = [INPUTS, {**INPUTS, "setting": "castle"}, INPUTS]
    results = chain.batch(inputs)
    assert [r["kid_friendly"] for r in results] == [True, True, True]
    assert [len(r["attempts"]) for r in results] == [1, 2, 1]
    # Drafts (3), the rewrite of the rejected one (1), then one music description call for all 3.
    assert story.calls == [3, 1, 3]
    assert moderator.calls == [3, 1]
