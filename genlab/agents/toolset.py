"""The tools the course assistant gets by default.

Assembled here, at the top of the package, because ``search_course`` comes from retrieval
and ``write_story`` from chains, and tools must never import chains.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from genlab.retrieval import search_course

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

    from genlab.settings import Settings

#: The default tools' names, in the order the agent sees them.
DEFAULT_TOOL_NAMES = (
    "search_course",
    "summarize",
    "classify_zero_shot",
    "classify_few_shot",
    "write_story",
    "generate_image",
    "generate_music",
)


def default_tools(settings: Settings | None = None) -> list[BaseTool]:
    """Return the course assistant's tools: course search, text, story, image and music.

    Importing a tool loads no model; each tool loads its model on first use. None of them
    runs shell commands or code, and the only files they write are the generators' own
    outputs (under ``GENLAB_OUTPUT_DIR``).

    Args:
        settings: Settings the tools should use instead of :func:`genlab.settings.get_settings`.

    Returns:
        The tools named in :data:`DEFAULT_TOOL_NAMES`, in that order.
    """
    from genlab.chains import write_story
    from genlab.tools import classify_few_shot, classify_zero_shot, generate_image, generate_music, summarize

    tools: list[BaseTool] = [
        search_course,
        summarize,
        classify_zero_shot,
        classify_few_shot,
        write_story,
        generate_image,
        generate_music,
    ]
    if settings is None:
        return tools  # the shared instances read the process settings when they run
    return [_configured(tool, settings) for tool in tools]


def _configured(tool: BaseTool, settings: Settings) -> BaseTool:
    """A copy of ``tool`` pinned to the models and output folder of ``settings``."""
    roles = {
        "summarize": "summary",
        "classify_zero_shot": "zero_shot",
        "classify_few_shot": "few_shot",
        "generate_image": "image",
        "generate_music": "music",
    }
    if tool.name == "write_story":
        from genlab.chains import make_write_story_tool
        from genlab.chains.base import LazyModel
        from genlab.chains.story import MODERATOR_MAX_TOKENS

        # Lazy: nothing loads (or connects) until the tool runs.
        return make_write_story_tool(
            LazyModel("text", settings=settings), LazyModel("text", settings=settings, max_new_tokens=MODERATOR_MAX_TOKENS)
        )
    update: dict[str, object] = {}
    if tool.name in roles and "model" in type(tool).model_fields:
        update["model"] = settings.model_for(roles[tool.name])
    if "store" in type(tool).model_fields:
        update["store"] = settings.store
    if "out_dir" in type(tool).model_fields:
        update["out_dir"] = settings.outputs
    if "settings" in type(tool).model_fields:
        update["settings"] = settings
    return tool.model_copy(update=update) if update else tool
