"""Long chats: the model sees the newest turns that fit its context, never half a tool round.

A ``genlab chat`` session grows with every turn, and a local model's context is small
(SmolLM2-135M: 8,192 tokens; the prompt also carries the system prompt and every tool's
schema). :func:`history_trimmer` is an agent middleware that, before each model call, drops
the oldest turns until the rest fits, with LangChain's ``trim_messages``:

- whole turns only: what is kept starts at a user message, so an assistant tool call and
  its tool results stay together (a tool result without its call is an error for chat
  templates and APIs alike);
- the current turn is always kept whole, even when it alone is long;
- only what the model sees is trimmed: the conversation saved by the checkpointer keeps
  every turn (``genlab chat`` can still show and resume it).

Trimming was chosen over LangChain's ``SummarizationMiddleware``: summarising costs a model
call, and a 135M model's summary loses the facts it was meant to keep.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage, trim_messages
from langchain_core.messages.utils import count_tokens_approximately
from langchain_core.utils.function_calling import convert_to_openai_tool

from genlab.models.generation import DEFAULT_MAX_NEW_TOKENS

#: Tokens left free beside the history for the rendering of roles and the chat template.
TEMPLATE_MARGIN = 64
#: History budget (approximate tokens) for models whose context genlab cannot read (servers).
DEFAULT_HISTORY_TOKENS = 12_000


def context_length(model: Any) -> int | None:
    """The context length of a local chat model (``ChatLocalModel``), or ``None`` when unknown."""
    llm = getattr(model, "llm", None)
    get_pipeline = getattr(llm, "get_pipeline", None)
    if get_pipeline is None:
        return None
    config = get_pipeline().model.config
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _token_counter(model: Any) -> Any:
    """Count tokens with the model's own tokenizer when it has one, else approximately."""
    get_tokenizer = getattr(model, "get_tokenizer", None)
    if get_tokenizer is None:
        return "approximate"
    tokenizer = get_tokenizer()

    def count(messages: list[Any]) -> int:
        total = 0
        for message in messages:
            content = message.content if isinstance(message.content, str) else json.dumps(message.content)
            calls = json.dumps(getattr(message, "tool_calls", None) or [])
            total += len(tokenizer(content + calls, add_special_tokens=False)["input_ids"]) + 8  # role markers
        return total

    return count


def trim_history(messages: list[Any], max_tokens: int, token_counter: Any) -> list[Any]:
    """The newest whole turns of ``messages`` within ``max_tokens``; the last turn always whole."""
    last_human = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=0)
    current, earlier = messages[last_human:], messages[:last_human]
    counter = token_counter if callable(token_counter) else None
    used = counter(current) if counter is not None else 0
    if counter is None:
        used = count_tokens_approximately(current)
    room = max_tokens - used
    if room <= 0 or not earlier:
        return current if room <= 0 else messages
    kept = trim_messages(earlier, max_tokens=room, token_counter=token_counter, strategy="last", start_on="human")
    return [*kept, *current]


def history_trimmer(max_tokens: int | None = None) -> Any:
    """An agent middleware that trims the conversation the model sees to fit its context.

    Args:
        max_tokens: Tokens of history the model may see; by default the model's context
            minus its ``max_new_tokens``, the system prompt and the tool schemas (for a
            model served elsewhere, :data:`DEFAULT_HISTORY_TOKENS`, counted approximately).
    """
    from langchain.agents.middleware import AgentMiddleware

    class HistoryTrimmer(AgentMiddleware):
        """Drops the oldest whole turns from what the model sees, so long chats fit its context."""

        def _trimmed(self, request: Any) -> Any:
            model = request.model
            counter = _token_counter(model)
            budget = max_tokens
            if budget is None:
                context = context_length(model)
                if context is None:
                    budget = DEFAULT_HISTORY_TOKENS
                else:
                    # The system prompt and the tool schemas are rendered into every prompt.
                    schemas = json.dumps([convert_to_openai_tool(t) for t in request.tools])
                    fixed = [request.system_message or SystemMessage(""), SystemMessage(schemas)]
                    fixed_tokens = counter(fixed) if callable(counter) else 0
                    # A model without its own max_new_tokens gets the generation default.
                    reply = getattr(getattr(model, "llm", None), "max_new_tokens", None) or DEFAULT_MAX_NEW_TOKENS
                    budget = context - reply - fixed_tokens - TEMPLATE_MARGIN
            messages = trim_history(list(request.messages), budget, counter)
            return request.override(messages=messages) if len(messages) != len(request.messages) else request

        def wrap_model_call(self, request: Any, handler: Any) -> Any:
            return handler(self._trimmed(request))

        async def awrap_model_call(self, request: Any, handler: Any) -> Any:
            return await handler(self._trimmed(request))

    return HistoryTrimmer()
