"""A moderated story, then a picture and/or a soundtrack for it.

The story comes from the story-then-moderate steps (:mod:`genlab.chains.story`). Only an
approved story goes on: the LLM describes a picture (or music) for it in one sentence, and
the image (or music) tool's generator makes the file. A story that was not approved gets
no picture and no music (their fields are None), so a batch of stories still returns one
result per input.

The generators run one at a time even in a batch: a diffusers pipeline and MusicGen keep
per-call state and are shared by the whole process.
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from langchain_core.runnables import RunnableLambda
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from genlab.chains.base import LLMLike, Stage, resolve_llm, text_chain
from genlab.chains.moderation import ClassifierLike
from genlab.chains.prompts import IMAGE_NEGATIVE_PROMPT, IMAGE_PROMPT, MUSIC_PROMPT, strip_thinking
from genlab.chains.story import StoryInputs, StoryResult, StoryThenModerate, story_then_moderate
from genlab.errors import InvalidInputError, describe_validation_error
from genlab.params import ImageSettings, MusicSettings, NegativePrompt
from genlab.steps import Ask, Steps
from genlab.tools.image import generate_images
from genlab.tools.music import compose_music

#: Longest picture or music description kept from the LLM: CLIP and T5 text encoders read
#: only the first few dozen tokens.
MAX_MEDIA_PROMPT_CHARS = 300

_LABEL = re.compile(r"^(?:picture|image|music)?\s*(?:description|prompt)\s*:\s*", re.IGNORECASE)


class _ToolOptions(BaseModel):
    """A generator tool's settings as a chain takes them: strict, nothing unknown; None is the default."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _none_means_the_default(cls, data: Any) -> Any:
        # illustrated_story(width=None), ``genlab story`` without --width: the tool's default.
        if isinstance(data, dict):
            return {name: value for name, value in data.items() if value is not None or name not in cls.model_fields}
        return data


class ImageOptions(ImageSettings, _ToolOptions):
    """Settings for the picture: the ``generate_image`` tool's own fields, limits and defaults
    (:class:`genlab.params.ImageSettings`), a children's-book negative prompt, and the model."""

    negative_prompt: NegativePrompt = IMAGE_NEGATIVE_PROMPT
    """What to keep out of a children's illustration."""
    model: str | None = None
    """Hub id or folder overriding GENLAB_IMAGE_MODEL."""


class MusicOptions(MusicSettings, _ToolOptions):
    """Settings for the soundtrack: the ``generate_music`` tool's own fields, limits and defaults
    (:class:`genlab.params.MusicSettings`), and the model."""

    model: str | None = None
    """Hub id or folder overriding GENLAB_MUSIC_MODEL."""


OptionsT = TypeVar("OptionsT", ImageOptions, MusicOptions)


def _options(kind: type[OptionsT], given: OptionsT | dict[str, Any] | None) -> OptionsT | None:
    """``given`` as ``kind``, validated now, before any story is written."""
    if given is None or isinstance(given, kind):
        return given
    try:
        return kind.model_validate(given)
    except ValidationError as exc:
        raise InvalidInputError(describe_validation_error(exc, kind)) from None


def clean_media_prompt(text: Any, fallback: str) -> str:
    """The first line of the LLM's description, without labels, quotes or markdown; ``fallback`` if empty."""
    body = strip_thinking(text)
    line = next((part.strip() for part in body.splitlines() if part.strip()), "")
    line = _LABEL.sub("", line.strip("*_#> ")).strip().strip("\"'“”`*_ ").strip()
    line = " ".join(line.split())
    if len(line) > MAX_MEDIA_PROMPT_CHARS:
        line = line[:MAX_MEDIA_PROMPT_CHARS].rsplit(" ", 1)[0]
    return line or fallback


def _image_fallback(inputs: StoryInputs) -> str:
    return f"a {inputs.character} with a {inputs.mysterious_object} in a {inputs.setting}, colourful children's book illustration"


def _music_fallback(inputs: StoryInputs) -> str:
    return f"gentle, whimsical orchestral music for a children's story set in a {inputs.setting}"


class StoryWithMediaResult(StoryResult):
    """What :func:`story_with_media` returns (as a plain dict): the story result, plus the
    picture and music fields of the media that were asked for (``None`` when the story was
    not approved; absent when that medium was not asked for)."""

    image_prompt: str | None = None
    """The picture description the story LLM wrote."""
    image_path: str | None = None
    """The PNG file drawn for the story."""
    image: dict[str, Any] | None = None
    """Everything ``generate_images`` reported (seed, steps, size, model...)."""
    music_prompt: str | None = None
    """The music description the story LLM wrote."""
    audio_path: str | None = None
    """The WAV file composed for the story."""
    audio: dict[str, Any] | None = None
    """Everything ``generate_music`` reported (seed, duration, model...)."""


_IMAGE_FIELDS = {"image_prompt", "image_path", "image"}
_MUSIC_FIELDS = {"music_prompt", "audio_path", "audio"}


class StoryWithMedia(StoryThenModerate):
    """Story-then-moderate, then a picture and/or music for each approved story."""

    name: str | None = "story_with_media"
    output_model: ClassVar[type[BaseModel]] = StoryWithMediaResult

    prompt_llm: Any = None
    """Writes the picture and music descriptions (the story LLM when None)."""
    image: ImageOptions | None = None
    """Draw a picture (with these settings) when set."""
    music: MusicOptions | None = None
    """Compose music (with these settings) when set."""
    output_dir: Path | None = None
    """Folder for the files; None uses GENLAB_OUTPUT_DIR."""

    def stages(self) -> dict[str, Stage]:
        stages = super().stages()
        describer = self.prompt_llm if self.prompt_llm is not None else self.story_llm
        # The generators run one at a time: a diffusers pipeline and MusicGen keep per-call state.
        if self.image is not None:
            stages["image_prompt"] = Stage(text_chain(IMAGE_PROMPT, describer).with_config(run_name="describe_picture"))
            stages["image"] = Stage(RunnableLambda(partial(self._draw, self.image), name="generate_image"), sequential=True)
        if self.music is not None:
            stages["music_prompt"] = Stage(text_chain(MUSIC_PROMPT, describer).with_config(run_name="describe_music"))
            stages["music"] = Stage(RunnableLambda(partial(self._compose, self.music), name="generate_music"), sequential=True)
        return stages

    def steps(self, item: StoryInputs) -> Steps[StoryWithMediaResult]:
        """The story steps; then, for an approved story, a picture and/or music for it."""
        story = yield from super().steps(item)
        result = StoryWithMediaResult.model_validate(story.model_dump())
        if not result.kid_friendly:
            return result
        if self.image is not None:
            result.image_prompt = clean_media_prompt(
                (yield Ask.one("image_prompt", {"story": result.story})), _image_fallback(item)
            )
            result.image = yield Ask.one("image", result.image_prompt)
            result.image_path = result.image["images"][0]["path"]
        if self.music is not None:
            result.music_prompt = clean_media_prompt(
                (yield Ask.one("music_prompt", {"story": result.story})), _music_fallback(item)
            )
            result.audio = yield Ask.one("music", result.music_prompt)
            result.audio_path = result.audio["path"]
        return result

    def output(self, result: BaseModel) -> dict[str, Any]:
        # The fields of a medium that was not asked for are left out, not reported as None.
        unasked = (set() if self.image is not None else _IMAGE_FIELDS) | (set() if self.music is not None else _MUSIC_FIELDS)
        return result.model_dump(exclude=unasked)

    def _draw(self, options: ImageOptions, prompt: str) -> dict[str, Any]:
        settings = options.model_dump(exclude={"model"})
        result = generate_images(prompt, num_images=1, model=options.model, out_dir=self.output_dir, **settings)
        return result.model_dump(mode="json")

    def _compose(self, options: MusicOptions, prompt: str) -> dict[str, Any]:
        settings = options.model_dump(exclude={"model"})
        return compose_music(prompt, model=options.model, out_dir=self.output_dir, **settings).model_dump(mode="json")


def _check_output_dir(output_dir: str | Path | None) -> Path | None:
    if output_dir is None:
        return None
    folder = Path(output_dir).expanduser()
    if folder.exists() and not folder.is_dir():
        raise InvalidInputError(f"output folder {str(folder)!r} is not a folder; pass a folder path")
    return folder


def story_with_media(
    story_llm: LLMLike | None = None,
    moderator_llm: LLMLike | None = None,
    *,
    prompt_llm: LLMLike | None = None,
    classifier: ClassifierLike = None,
    max_rewrites: int = 0,
    image: ImageOptions | dict[str, Any] | None = None,
    music: MusicOptions | dict[str, Any] | None = None,
    output_dir: str | Path | None = None,
    name: str = "story_with_media",
) -> StoryWithMedia:
    """Build a story-then-moderate chain that also draws a picture and/or composes music.

    :func:`illustrated_story` and :func:`story_soundtrack` are this with one medium; pass
    both ``image`` and ``music`` for a story with both (what ``genlab story --illustrate
    --soundtrack`` runs). Arguments as in those two functions; ``name`` names the chain's
    runs in traces.

    Raises:
        InvalidInputError: A setting is outside what the image or music tool allows, or
            ``output_dir`` is not a folder (checked before anything runs).
    """
    image = _options(ImageOptions, image)
    music = _options(MusicOptions, music)
    base = story_then_moderate(story_llm, moderator_llm, classifier=classifier, max_rewrites=max_rewrites)
    return StoryWithMedia(
        story_llm=base.story_llm,
        moderator_llm=base.moderator_llm,
        moderator=base.moderator,
        max_rewrites=base.max_rewrites,
        # An image prompt: CLIP reads 77 tokens.
        prompt_llm=None if prompt_llm is None else resolve_llm(prompt_llm, what="prompt_llm", max_new_tokens=77),
        image=image,
        music=music,
        output_dir=_check_output_dir(output_dir),
        name=name,
    )


def illustrated_story(
    story_llm: LLMLike | None = None,
    moderator_llm: LLMLike | None = None,
    *,
    prompt_llm: LLMLike | None = None,
    classifier: ClassifierLike = None,
    max_rewrites: int = 0,
    width: int | None = None,
    height: int | None = None,
    steps: int | None = None,
    guidance_scale: float | None = None,
    seed: int | None = None,
    negative_prompt: str = IMAGE_NEGATIVE_PROMPT,
    image_model: str | None = None,
    output_dir: str | Path | None = None,
) -> StoryWithMedia:
    """Build the chain story (approved) -> picture description by the LLM -> ``generate_image``.

    Input: the six story variables, as for :func:`~genlab.chains.story_then_moderate`.
    Output: that chain's ``story``, ``kid_friendly``, ``verdict``, ``attempts``, plus
    ``image_prompt`` (the description the LLM wrote), ``image_path`` (the PNG) and ``image``
    (the ``generate_image`` tool's result). When the story is not approved, those three
    are None and nothing is drawn.

    Args:
        story_llm: Writes the story; None: the configured local text model (loaded on first use).
        moderator_llm: Judges the story; None: the configured local text model.
        prompt_llm: Writes the picture description; None: the story LLM.
        classifier: Optional zero-shot second opinion on the story (see ``story_then_moderate``).
        max_rewrites: Rewrites of a rejected story (0 to 10).
        width: Picture width in pixels; None: the tool's default.
        height: Picture height in pixels; None: the tool's default.
        steps: Denoising steps; fewer is faster.
        guidance_scale: Classifier-free guidance.
        seed: Seed of the picture; the same seed and settings draw the same picture.
        negative_prompt: What to keep out of the picture.
        image_model: Hub id or folder overriding GENLAB_IMAGE_MODEL.
        output_dir: Folder for the PNG; None: GENLAB_OUTPUT_DIR.

    The picture settings are :class:`ImageOptions`, whose field descriptions (the
    ``generate_image`` tool's) say what each allows; None leaves the tool's default.

    Raises:
        InvalidInputError: A setting is out of range (checked when the chain is built).
    """
    image = _options(
        ImageOptions,
        dict(
            width=width,
            height=height,
            steps=steps,
            guidance_scale=guidance_scale,
            seed=seed,
            negative_prompt=negative_prompt,
            model=image_model,
        ),
    )
    return story_with_media(
        story_llm,
        moderator_llm,
        prompt_llm=prompt_llm,
        classifier=classifier,
        max_rewrites=max_rewrites,
        image=image,
        output_dir=output_dir,
        name="illustrated_story",
    )


def story_soundtrack(
    story_llm: LLMLike | None = None,
    moderator_llm: LLMLike | None = None,
    *,
    prompt_llm: LLMLike | None = None,
    classifier: ClassifierLike = None,
    max_rewrites: int = 0,
    duration_s: float | None = None,
    seed: int | None = None,
    music_model: str | None = None,
    output_dir: str | Path | None = None,
) -> StoryWithMedia:
    """Build the chain story (approved) -> music description by the LLM -> ``generate_music``.

    Output: the story chain's fields plus ``music_prompt``, ``audio_path`` (the WAV) and
    ``audio`` (the ``generate_music`` tool's result); None when the story is not approved.

    Args:
        story_llm: Writes the story; None: the configured local text model (loaded on first use).
        moderator_llm: Judges the story; None: the configured local text model.
        prompt_llm: Writes the music description; None: the story LLM.
        classifier: Optional zero-shot second opinion on the story.
        max_rewrites: Rewrites of a rejected story (0 to 10).
        duration_s: Length of the clip in seconds; None: the tool's default.
        seed: Sampling seed; the same seed gives the same clip.
        music_model: Hub id or folder overriding GENLAB_MUSIC_MODEL.
        output_dir: Folder for the WAV; None: GENLAB_OUTPUT_DIR.

    The music settings are :class:`MusicOptions`, whose field descriptions (the
    ``generate_music`` tool's) say what each allows; None leaves the tool's default.

    Raises:
        InvalidInputError: A setting is out of range (checked when the chain is built).
    """
    music = _options(MusicOptions, dict(duration_s=duration_s, seed=seed, model=music_model))
    return story_with_media(
        story_llm,
        moderator_llm,
        prompt_llm=prompt_llm,
        classifier=classifier,
        max_rewrites=max_rewrites,
        music=music,
        output_dir=output_dir,
        name="story_soundtrack",
    )
