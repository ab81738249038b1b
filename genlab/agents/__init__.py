"""The course assistant: a tool-calling agent over every genlab tool, its memory, and the REPL.

- :func:`build_agent`: LangChain's ``create_agent`` with the course tools, a course-assistant
  prompt, tool errors handed back to the model, a step limit, and a checkpointer.
- :func:`default_tools`: ``search_course``, ``summarize``, ``classify_zero_shot``,
  ``classify_few_shot``, ``write_story``, ``generate_image``, ``generate_music``.
- :class:`ChatSession` / :func:`open_chat`: a named conversation, turn by turn, as events.
- :func:`open_checkpointer`: saved conversations in ``$GENLAB_HOME/sessions.sqlite``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from genlab._lazy import lazy_getattr

if TYPE_CHECKING:
    from genlab.agents.agent import DEFAULT_MAX_MODEL_CALLS, agent_config, build_agent
    from genlab.agents.memory import SessionRegistry, open_checkpointer, sessions_path
    from genlab.agents.prompts import SYSTEM_PROMPT
    from genlab.agents.session import ChatSession, open_chat
    from genlab.agents.toolset import DEFAULT_TOOL_NAMES, default_tools

# LangChain's agent factory and LangGraph are imported on first use, keeping `import genlab`
# and `genlab --help` fast.
_LAZY = {
    "build_agent": "genlab.agents.agent",
    "agent_config": "genlab.agents.agent",
    "DEFAULT_MAX_MODEL_CALLS": "genlab.agents.agent",
    "default_tools": "genlab.agents.toolset",
    "DEFAULT_TOOL_NAMES": "genlab.agents.toolset",
    "ChatSession": "genlab.agents.session",
    "open_chat": "genlab.agents.session",
    "SessionRegistry": "genlab.agents.memory",
    "open_checkpointer": "genlab.agents.memory",
    "sessions_path": "genlab.agents.memory",
    "SYSTEM_PROMPT": "genlab.agents.prompts",
}

__all__ = sorted(_LAZY)


__getattr__ = lazy_getattr(__name__, _LAZY)
