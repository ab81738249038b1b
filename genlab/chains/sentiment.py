"""Few-shot sentiment: the course's restaurant-review prompt as a chain.

The course shows a text-generation model three labelled reviews separated by ``###``,
appends the new review and reads the word after ``[Sentiment]:``. Here any LangChain LLM
or chat model answers, generation stops at ``###`` as in the course, and the answer is
mapped onto ``positive`` / ``negative`` / ``neutral``, or ``unknown`` when its first word
is none of them (a guess is never made from words further on).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from langchain_core.language_models import BaseLanguageModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import Runnable, RunnableLambda

from genlab.chains.base import LazyModel, LLMLike, resolve_llm
from genlab.chains.prompts import SENTIMENT_PROMPT, SENTIMENT_STOP, strip_thinking
from genlab.errors import InvalidInputError
from genlab.tools.base import check_text_size

#: The labels of the course's examples, lower-cased, and what an unreadable answer gives.
SENTIMENTS = ("positive", "negative", "neutral")
UNKNOWN = "unknown"

_LABEL = re.compile(r"^\[?\s*sentiment\s*\]?\s*:\s*", re.IGNORECASE)
_NOISE = "*_#>\"'`“”‘’ \t"


def parse_sentiment(answer: Any) -> str:
    """Map a model's continuation of ``[Sentiment]:`` onto a label.

    The answer is read up to the first ``###``; its first non-empty line may repeat the
    ``[Sentiment]:`` label and carry markdown or quotes. The first word decides:
    ``positive``, ``negative`` or ``neutral`` (any case); anything else is ``unknown``.
    """
    text = strip_thinking(answer).split(SENTIMENT_STOP, 1)[0]
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    line = _LABEL.sub("", line.strip(_NOISE)).strip(_NOISE)
    match = re.match(r"[A-Za-z]+", line)
    word = match.group(0).lower() if match else ""
    return word if word in SENTIMENTS else UNKNOWN


def _review(value: Any) -> dict[str, str]:
    if isinstance(value, Mapping):
        if "review" not in value:
            raise InvalidInputError("few_shot_sentiment takes a review: a string, or a mapping with the key 'review'")
        value = value["review"]
    if not isinstance(value, str):
        raise InvalidInputError(f"a review must be a string, got {type(value).__name__}")
    # One line, as in the course's examples; a "###" inside would end the prompt early.
    review = " ".join(re.sub(r"#{3,}", "#", value).split())
    if not review:
        raise InvalidInputError("the review is empty; give the text of a restaurant review")
    return {"review": check_text_size(review, what="the review")}


def few_shot_sentiment(llm: LLMLike | None = None) -> Runnable[Any, str]:
    """Build the course's few-shot restaurant-review sentiment chain.

    Input: a review (a string, or ``{"review": ...}``). Output: ``"positive"``,
    ``"negative"``, ``"neutral"`` or ``"unknown"``.

    Args:
        llm: Any LangChain LLM or chat model. None uses the configured few-shot model
            (``GENLAB_FEW_SHOT_MODEL``, by default the text model), loaded on first use.

    Returns:
        An LCEL Runnable (``invoke``, ``batch``, ``stream``, ``ainvoke``).

    Example:
        >>> chain = few_shot_sentiment(FakeListLLM(responses=[" Negative\\n###"]))
        >>> chain.invoke("The food was cold and the staff was rude.")
        'negative'
    """
    # The course generates at most 10 new tokens: a label and the separator.
    model = resolve_llm(llm, what="llm", role="few_shot", max_new_tokens=10)
    if isinstance(model, (BaseLanguageModel, LazyModel)):
        model = model.bind(stop=[SENTIMENT_STOP])  # the course's end-of-example token
    chain = (
        RunnableLambda(_review, name="review")
        | SENTIMENT_PROMPT
        | model
        | StrOutputParser()
        | RunnableLambda(parse_sentiment, name="parse_sentiment")
    )
    return chain.with_config(run_name="few_shot_sentiment")
