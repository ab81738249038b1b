"""Chain commands: ``story``."""

from __future__ import annotations

from typing import Annotated

import typer

from genlab.chains.story_example import COURSE_STORY_EXAMPLE
from genlab.cli.app import app
from genlab.cli.common import (
    JsonOption,
    MaxNewTokensOption,
    ModelOption,
    OutOption,
    TemperatureOption,
    generation_settings,
    print_json,
)
from genlab.params import ImageSettings, MusicSettings, default, describe


def _of(what: str, schema: type[ImageSettings | MusicSettings], name: str) -> str:
    """A generator field's description as the story's option help: "Picture width in pixels: ..."."""
    text = describe(schema, name)
    return f"{what} {text[:1].lower()}{text[1:]}"


@app.command("story")
def story_command(
    setting: Annotated[str, typer.Option("--setting", help="Where the story happens.")] = COURSE_STORY_EXAMPLE["setting"],
    character: Annotated[str, typer.Option("--character", help="Who the story is about.")] = COURSE_STORY_EXAMPLE["character"],
    mysterious_object: Annotated[
        str, typer.Option("--mysterious-object", help="What the character discovers.")
    ] = COURSE_STORY_EXAMPLE["mysterious_object"],
    magical_properties: Annotated[
        str, typer.Option("--magical-properties", help="What the object can do.")
    ] = COURSE_STORY_EXAMPLE["magical_properties"],
    action: Annotated[str, typer.Option("--action", help="What the character decides to do.")] = COURSE_STORY_EXAMPLE["action"],
    outcome: Annotated[str, typer.Option("--outcome", help="How it ends.")] = COURSE_STORY_EXAMPLE["outcome"],
    max_rewrites: Annotated[int, typer.Option("--max-rewrites", help="Rewrites of a rejected story for children, 0 to 10.")] = 1,
    classifier: Annotated[
        bool, typer.Option("--classifier", help="Also ask the zero-shot classifier (GENLAB_ZERO_SHOT_MODEL).")
    ] = False,
    illustrate: Annotated[bool, typer.Option("--illustrate", help="Draw a picture for an approved story.")] = False,
    soundtrack: Annotated[bool, typer.Option("--soundtrack", help="Compose music for an approved story.")] = False,
    width: Annotated[int, typer.Option("--width", help=_of("Picture", ImageSettings, "width"))] = default(ImageSettings, "width"),
    height: Annotated[int, typer.Option("--height", help=_of("Picture", ImageSettings, "height"))] = default(
        ImageSettings, "height"
    ),
    steps: Annotated[int, typer.Option("--steps", help=_of("Picture", ImageSettings, "steps"))] = default(ImageSettings, "steps"),
    duration: Annotated[float, typer.Option("--duration", help=_of("Music", MusicSettings, "duration_s"))] = default(
        MusicSettings, "duration_s"
    ),
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of the story, its moderation, the picture and the music.")
    ] = None,
    out: OutOption = None,
    model: ModelOption = None,
    max_new_tokens: MaxNewTokensOption = None,
    temperature: TemperatureOption = None,
    json_output: JsonOption = False,
) -> None:
    """Write a story from the course's template and check that it is kid-friendly.

    A second model is asked whether the story is kid-friendly; an unclear answer counts as
    no. A rejected story is rewritten for children up to --max-rewrites times.
    """
    from genlab.chains.base import LazyModel
    from genlab.chains.media import story_with_media
    from genlab.chains.story import MODERATOR_MAX_TOKENS

    generation = generation_settings(max_new_tokens, temperature, seed)
    # The moderator answers in a few words whatever --max-new-tokens says; it shares the rest.
    moderation = {k: v for k, v in generation.items() if k != "max_new_tokens"}
    custom = bool(model or generation)
    chain = story_with_media(
        LazyModel(model=model, **generation) if custom else None,
        LazyModel(model=model, max_new_tokens=MODERATOR_MAX_TOKENS, **moderation) if custom else None,
        classifier=classifier,
        max_rewrites=max_rewrites,
        # Dicts: story_with_media validates them against the tools' schemas (one line, exit 2).
        image=dict(width=width, height=height, steps=steps, seed=seed) if illustrate else None,
        music=dict(duration_s=duration, seed=seed) if soundtrack else None,
        output_dir=out,
    )
    inputs = dict(
        setting=setting,
        character=character,
        mysterious_object=mysterious_object,
        magical_properties=magical_properties,
        action=action,
        outcome=outcome,
    )
    result = chain.invoke(inputs)
    if json_output:
        print_json(result)
        return
    print(result["story"])
    print()
    tries = len(result["attempts"])
    print(f"Verdict: {result['verdict']}" + (f" ({tries} attempts)" if tries > 1 else ""))
    for wanted, kind, key in ((illustrate, "Image", "image_path"), (soundtrack, "Music", "audio_path")):
        if not wanted:
            continue
        if result.get(key):
            print(f"{kind}: {result[key]}")
        else:
            print(f"{kind}: none, the story was not approved")
