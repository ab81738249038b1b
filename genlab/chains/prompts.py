"""The chains' prompts, in the course's own wording where the course has one.

The course's LangChain example ("an AI self-storytelling-and-moderating tool") fills
:data:`STORY_TEMPLATE` with six story variables and asks a second LLM "Is the following
story kid-friendly?". Its few-shot example classifies restaurant reviews with
:data:`RESTAURANT_FEW_SHOT`, separated by ``###``.
"""

from __future__ import annotations

import re

from langchain_core.prompts import PromptTemplate

from genlab.chains.story_example import COURSE_STORY_EXAMPLE  # noqa: F401  (re-exported)

_THINKING = re.compile(r"^\s*<think>.*?</think>", re.IGNORECASE | re.DOTALL)


def strip_thinking(text: object) -> str:
    """Drop a reasoning model's leading ``<think>...</think>`` block from an answer."""
    return _THINKING.sub("", str(text), count=1)


#: The six variables of the course's story template, in its order.
STORY_VARIABLES = ("setting", "character", "mysterious_object", "magical_properties", "action", "outcome")

#: The course's story template, verbatim.
STORY_TEMPLATE = """
Once upon a time, in a {setting}, there lived a {character}. One day, {character} discovered a {mysterious_object} that had {magical_properties}. Excited and curious, {character} decided to {action}. The outcome was {outcome}.

The end.
"""


# The course sends the filled template to a completion model as is; an instruct model
# needs to be told to write the story, so the template becomes the outline of the request.
STORY_PROMPT = PromptTemplate.from_template(
    "Write a short story for children (about 150 words) that follows this outline. "
    "Reply with the story only.\n\nOutline:" + STORY_TEMPLATE + "\nStory:\n"
)

#: The course's moderation question, verbatim.
COURSE_MODERATION_TEMPLATE = "Is the following story kid-friendly? {story}"

# The course's question, plus the answer format that parse_verdict reads.
MODERATION_PROMPT = PromptTemplate.from_template(
    "Is the following story kid-friendly?\n\n"
    'Story:\n"""\n{story}\n"""\n\n'
    'Answer "Yes" or "No" as the very first word, then say why in one sentence.\n\nAnswer:'
)

REWRITE_PROMPT = PromptTemplate.from_template(
    "A moderator decided that the story below is not suitable for children, because: {reasons}\n\n"
    "Rewrite the story for children: keep the {character}, the {mysterious_object} and the {setting}, "
    "leave out anything frightening, violent or unkind, and reply with the story only.\n\n"
    'Story:\n"""\n{story}\n"""\n\nKid-friendly story:\n'
)

IMAGE_PROMPT = PromptTemplate.from_template(
    "Describe, in one sentence of at most 40 words, a picture that illustrates the children's story "
    "below, for a text-to-image model: the main character, the setting, and the style "
    "(a colourful children's book illustration). Reply with the description only.\n\n"
    'Story:\n"""\n{story}\n"""\n\nPicture description:'
)

#: What the illustration must avoid (a children's story's picture).
IMAGE_NEGATIVE_PROMPT = "scary, violent, gore, blood, weapons, nsfw, text, watermark, blurry"

MUSIC_PROMPT = PromptTemplate.from_template(
    "Describe, in one sentence of at most 30 words, background music for the children's story below, "
    "for a text-to-music model: the mood, the instruments and the tempo. Reply with the description only.\n\n"
    'Story:\n"""\n{story}\n"""\n\nMusic description:'
)

#: The course's few-shot prompt for restaurant-review sentiment, verbatim.
RESTAURANT_FEW_SHOT = """
For each restaurant review, describe its sentiment:
[Review]: "The food at this restaurant was absolutely delicious, and the service was excellent."
[Sentiment]: Positive
###
[Review]: "I had a terrible experience at this place. The food was cold, and the staff was rude."
[Sentiment]: Negative
###
[Review]: "The ambiance and decor were charming, but the food quality was mediocre."
[Sentiment]: Neutral"""

# The course appends the new review exactly like this: f'\n[Review]: "{new_review}"\n[Sentiment]:'
SENTIMENT_PROMPT = PromptTemplate.from_template(RESTAURANT_FEW_SHOT + '\n[Review]: "{review}"\n[Sentiment]:')

#: The course stops generation at the separator between examples.
SENTIMENT_STOP = "###"

MAP_SUMMARY_PROMPT = PromptTemplate.from_template(
    'Summarize the following text{length}, keeping its key facts.\n\nText:\n"""\n{text}\n"""\n\nSummary:'
)

REDUCE_SUMMARY_PROMPT = PromptTemplate.from_template(
    "These are summaries of consecutive parts of one document. Combine them into one concise summary "
    "of the whole document{length}.\n\n"
    'Summaries:\n"""\n{text}\n"""\n\nSummary:'
)
