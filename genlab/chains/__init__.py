"""LCEL chains over local models: story -> moderation, illustrated story, soundtrack, summaries, few-shot.

Every chain is a LangChain Runnable (``invoke``, ``batch``, ``stream``, ``ainvoke``), takes
any LangChain LLM or chat model, and defaults to the configured local models, loaded on
first use (building a chain loads nothing).

- :func:`story_then_moderate`: the course's story template, checked by a moderator LLM
  (and optionally a zero-shot classifier), rewritten for children when rejected.
- :data:`write_story` / :func:`make_write_story_tool`: that chain as the agent's tool.
- :func:`illustrated_story`, :func:`story_soundtrack`: an approved story, then an image or
  a music clip from a prompt the LLM writes.
- :func:`summarize_document`: map-reduce summary of a long text or file, chunk summaries included.
- :func:`few_shot_sentiment`: the course's restaurant-review few-shot prompt.
- :func:`parse_verdict`: the strict reader of a moderator's answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from genlab._lazy import lazy_getattr

if TYPE_CHECKING:
    from genlab.chains.media import StoryWithMedia, illustrated_story, story_soundtrack, story_with_media
    from genlab.chains.moderation import ZeroShotModerator
    from genlab.chains.sentiment import SENTIMENTS, few_shot_sentiment, parse_sentiment
    from genlab.chains.story import StoryInputs, StoryThenModerate, story_then_moderate
    from genlab.chains.story_tool import WriteStoryTool, make_write_story_tool, write_story
    from genlab.chains.summary import summarize_document
    from genlab.chains.verdict import ModeratorVerdict, parse_verdict

# langchain-core's prompt and runnable modules take most of a second to import; resolve
# the names on first use so `import genlab.chains` stays cheap.
_LAZY = {
    "story_then_moderate": "genlab.chains.story",
    "StoryThenModerate": "genlab.chains.story",
    "StoryInputs": "genlab.chains.story",
    "ZeroShotModerator": "genlab.chains.moderation",
    "ModeratorVerdict": "genlab.chains.verdict",
    "parse_verdict": "genlab.chains.verdict",
    "write_story": "genlab.chains.story_tool",
    "make_write_story_tool": "genlab.chains.story_tool",
    "WriteStoryTool": "genlab.chains.story_tool",
    "illustrated_story": "genlab.chains.media",
    "story_soundtrack": "genlab.chains.media",
    "story_with_media": "genlab.chains.media",
    "StoryWithMedia": "genlab.chains.media",
    "summarize_document": "genlab.chains.summary",
    "few_shot_sentiment": "genlab.chains.sentiment",
    "parse_sentiment": "genlab.chains.sentiment",
    "SENTIMENTS": "genlab.chains.sentiment",
}

__all__ = sorted(_LAZY)


__getattr__ = lazy_getattr(__name__, _LAZY)
