"""The Story tab: the course's story template, moderated (:func:`genlab.chains.media.story_with_media`).

The six fields start with the course's example values (``COURSE_STORY_EXAMPLE``), as
``genlab story`` does. The page shows every attempt with its verdict, the approved story,
and the picture and the music when those switches are on and the story was approved.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from genlab.chains.story_example import COURSE_STORY_EXAMPLE
from genlab.ui.errors import shows_errors

FIELDS = {
    "setting": "Setting",
    "character": "Character",
    "mysterious_object": "Mysterious object",
    "magical_properties": "Magical properties",
    "action": "Action",
    "outcome": "Outcome",
}


def attempts_markdown(result: dict[str, Any]) -> str:
    """Each story written, in order, with what the moderators said about it."""
    parts = []
    for number, attempt in enumerate(result["attempts"], start=1):
        mark = "approved" if attempt["kid_friendly"] else "rejected"
        story = "\n".join(f"> {line}" if line else ">" for line in attempt["story"].splitlines()) or "> (empty)"
        parts.append(f"**Attempt {number}: {mark}.** {attempt['verdict']}\n\n{story}")
    return "\n\n".join(parts)


@shows_errors
def story(
    setting: str,
    character: str,
    mysterious_object: str,
    magical_properties: str,
    action: str,
    outcome: str,
    max_rewrites: float,
    classifier: bool,
    illustrate: bool,
    soundtrack: bool,
    progress: Any = gr.Progress(),  # noqa: B008 - Gradio finds its progress tracker by this default
) -> tuple[str, str, str | None, str | None]:
    """Write and moderate a story (``/story``); returns (attempts, approved story, picture, music)."""
    from genlab.chains.media import ImageOptions, MusicOptions, story_with_media

    chain = story_with_media(
        classifier=classifier,
        max_rewrites=int(max_rewrites),
        image=ImageOptions() if illustrate else None,
        music=MusicOptions() if soundtrack else None,
    )
    progress(0.0, desc="writing the story, then asking the moderator")
    result = chain.invoke(
        dict(
            setting=setting,
            character=character,
            mysterious_object=mysterious_object,
            magical_properties=magical_properties,
            action=action,
            outcome=outcome,
        )
    )
    approved = result["story"] if result["kid_friendly"] else "No attempt was approved as kid-friendly; see the attempts below."
    return attempts_markdown(result), approved, result.get("image_path"), result.get("audio_path")


def build() -> dict[str, Any]:
    """Lay out the Story tab inside the current ``gr.Blocks``."""
    with gr.Row():
        with gr.Column(scale=2):
            fields = [gr.Textbox(value=COURSE_STORY_EXAMPLE[key], label=label) for key, label in FIELDS.items()]
            max_rewrites = gr.Slider(
                0, 10, value=1, step=1, label="Rewrites", info="Rewrites of a rejected story.", elem_id="story-rewrites"
            )
            with gr.Row():
                classifier = gr.Checkbox(label="Classifier", info="Also ask the zero-shot classifier.")
                illustrate = gr.Checkbox(label="Illustrate", info="Draw a picture for an approved story.")
                soundtrack = gr.Checkbox(label="Soundtrack", info="Compose music for an approved story.")
            button = gr.Button("Write story", variant="primary")
        with gr.Column(scale=3):
            approved = gr.Textbox(label="Approved story", lines=8, interactive=False, elem_id="story-approved")
            picture = gr.Image(label="Picture", type="filepath", interactive=False, height=320)
            player = gr.Audio(label="Soundtrack", type="filepath", interactive=False)
            with gr.Accordion("Attempts and verdicts", open=True):
                attempts = gr.Markdown(elem_id="story-attempts")
    button.click(
        story,
        inputs=[*fields, max_rewrites, classifier, illustrate, soundtrack],
        outputs=[attempts, approved, picture, player],
        api_name="story",
    )
    return {"approved": approved, "attempts": attempts}
