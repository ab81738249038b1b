"""Verdicts that need no parsing: yes/no probabilities on a local model, structured output on a chat model.

A small moderator (SmolLM2-135M-Instruct, seen here) answers "No." to every story, harmless
or violent, and a rambling answer is unreadable. Two sturdier ways to ask, each chosen by
:func:`moderation_stage` from the kind of moderator:

- a genlab local model (:class:`~genlab.models.LocalLLM`, :class:`~genlab.models.ChatLocalModel`
  over one, or the default model): one forward pass, and the probabilities that the answer's
  first word is "yes" or "no" (:func:`verdict_from_probabilities`): no generation, a
  confidence in the reason;
- any other chat model: ``with_structured_output`` of :class:`VerdictAnswer`, with the text
  answer and :func:`~genlab.chains.verdict.parse_verdict` as the fallback when the model
  cannot produce the structure;
- anything else: the text answer, parsed strictly.
"""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.prompts import BasePromptTemplate
from langchain_core.runnables import Runnable, RunnableBinding, RunnableLambda
from pydantic import BaseModel, Field

from genlab.chains.base import LazyModel, text_chain
from genlab.chains.verdict import ModeratorVerdict, parse_verdict
from genlab.models.chat import ChatLocalModel
from genlab.models.llm import LocalLLM
from genlab.models.sampling import answer_probabilities

#: Share of yes in P(yes) + P(no) that approves: above one half, so a torn model does not approve.
APPROVE_SHARE = 0.6
#: Least P(yes) + P(no) for a readable verdict: below it the model was about to say something else.
MIN_ANSWER_MASS = 0.2

_SPELLINGS = {
    "yes": ["Yes", " Yes", "yes", " yes", "YES", " YES"],
    "no": ["No", " No", "no", " no", "NO", " NO"],
}


class VerdictAnswer(BaseModel):
    """Whether a story is suitable for children, and why."""

    kid_friendly: bool = Field(description="True if the story is suitable for young children")
    reason: str = Field(description="Why, in one sentence")


def verdict_from_probabilities(p_yes: float, p_no: float) -> ModeratorVerdict:
    """The verdict read from the probabilities of the answer's first word (fails closed)."""
    raw = f"P(yes)={p_yes:.3f} P(no)={p_no:.3f}"
    mass = p_yes + p_no
    if mass < MIN_ANSWER_MASS:
        return ModeratorVerdict(
            kid_friendly=False,
            readable=False,
            reason=f"unreadable verdict (its first word was unlikely to be yes or no: {raw}), so the story is not approved",
            raw=raw,
        )
    share = p_yes / mass
    approve = share >= APPROVE_SHARE
    reason = f"the model's first word is {'yes' if approve else 'no'} with probability {max(share, 1 - share):.2f} ({raw})"
    return ModeratorVerdict(kid_friendly=approve, reason=reason, raw=raw)


def _local_llm(moderator: Any) -> tuple[Any, Any] | None:
    """``(LocalLLM, chat model or None)`` when ``moderator`` is a genlab local model, else None."""

    if isinstance(moderator, LazyModel):
        moderator = moderator.model()
    if isinstance(moderator, ChatLocalModel) and isinstance(moderator.llm, LocalLLM):
        return moderator.llm, moderator
    if isinstance(moderator, LocalLLM):
        return moderator, None
    return None


def moderation_stage(prompt: BasePromptTemplate, moderator: Any) -> Runnable[Any, Any]:
    """The Runnable from ``{"story": ...}`` to a :class:`ModeratorVerdict` for ``moderator``."""
    if isinstance(moderator, RunnableBinding) and _is_genlab_local(moderator.bound):
        moderator = moderator.bound  # bound generation settings do not matter: nothing is generated
    if isinstance(moderator, LazyModel) or _is_genlab_local(moderator):

        def score(value: dict[str, Any]) -> ModeratorVerdict:

            local = _local_llm(moderator)
            if local is None:  # the default model may be configured as another kind
                return parse_verdict(text_chain(prompt, moderator).invoke(value))
            llm, chat = local
            rendered = prompt.format_prompt(**value)
            text = chat.render(rendered) if chat is not None else rendered.to_string()
            pipe = llm.get_pipeline()
            probs = answer_probabilities(pipe.model, pipe.tokenizer, text, _SPELLINGS, add_special_tokens=chat is None)
            return verdict_from_probabilities(probs["yes"], probs["no"])

        return RunnableLambda(score, name="score_verdict")
    text = text_chain(prompt, moderator) | RunnableLambda(parse_verdict, name="parse_verdict")
    if isinstance(moderator, BaseChatModel):
        try:
            structured = moderator.with_structured_output(VerdictAnswer)
        except NotImplementedError:  # a chat model without tool calling: the text answer it is
            return text
        return (prompt | structured | RunnableLambda(_from_structured)).with_fallbacks([text])
    return text


def _is_genlab_local(moderator: Any) -> bool:
    return type(moderator).__module__.startswith("genlab.models") and _local_llm(moderator) is not None


def _from_structured(answer: Any) -> ModeratorVerdict:
    if not isinstance(answer, VerdictAnswer):
        raise ValueError("the moderator gave no structured verdict")  # handled: the fallback runs
    reason = " ".join(answer.reason.split()) or "no reason given"
    return ModeratorVerdict(kid_friendly=answer.kid_friendly, reason=reason, raw=answer.model_dump_json())
