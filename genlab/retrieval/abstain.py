"""Does a retrieved sentence answer the question? Classic extractive-QA checks, no reader model.

Without a reader model, an extractive answer that only ranks sentences by similarity
strings together related sentences that do not answer (a dozen uncovered questions were
answered that way, none declined). Two signals from classic question answering decide:

- the expected answer type, from the question's wording: *who* wants a person or an
  organisation, *when* a date or year, *how many / how much* a number (and, for *how many
  X*, the counted X), *which / what X* a sentence about an X. A sentence without such an
  answer cannot answer, however similar it is;
- coverage: how much of the question's content (its terms weighted by inverse document
  frequency over the index, so "parameters" weighs more than "model") the sentence and the
  heading it sits under contain.

The thresholds were chosen on the dev sets only (benchmarks/abstention.py: the 80 covered
questions of benchmarks/devset.jsonl and heldout.jsonl, the 30 uncovered ones of
benchmarks/dev_uncovered.jsonl).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from genlab.retrieval.query import question_parts
from genlab.retrieval.text import STOP_WORDS, tokenize

AnswerType = Literal["person", "date", "number", "thing"]

#: Words of the question that say what kind of answer it wants, not what it is about.
QUESTION_TERMS = frozenset(
    """tell explain describe mean meaning difference differ definition define example
    course document note notes""".split()
)
_PERSON = re.compile(
    r"^\s*(who|whom|whose)\b|\b(which|what)\s+(company|companies|organi[sz]ations?|person|people|researchers?|team|lab|labs|group|scientists?|authors?|firm)\b",
    re.I,
)
# "When was X released?" asks for a date; "When should I choose X?" and "When we load X, ..."
# ask for a condition or open a clause.
_DATE = re.compile(
    r"^\s*when\s+(?:was|were|did|has|have|had)\b|\b(what|which|in what|in which)\s+(year|date|decade|century)\b|\bhow long ago\b",
    re.I,
)
_NUMBER = re.compile(r"\bhow\s+(many|much)\b|\bwhat\s+(number|percentage|fraction|share)\b", re.I)
_THING = re.compile(
    r"^\s*(?:which|what)\s+((?:[\w-]+\s+){0,2}?[\w-]+)\s+(?:is|are|was|were|does|do|did|should|can|could|would|will|has|have|had)\b",
    re.I,
)
#: "What is ...", "What does ... do": definitions and explanations, not a named thing.
_NOT_THING_HEADS = frozenset("is are was were does do did can could should would kind kinds type types sort way ways".split())
_COUNTED = re.compile(r"\bhow\s+many\s+([\w-]+)", re.I)

_YEAR = re.compile(
    r"\b(1[5-9]\d\d|20\d\d)s?\b|\b\d{2}(st|nd|rd|th) century\b|\b\d{4}\d{0,2}\b"
    r"|\b(January|February|March|April|May|June|July|August|September|October|November|December)\b"
)
_NUMERAL = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|hundred|hundreds|thousand|thousands|million|millions|billion|billions|trillion|dozen|dozens|single|double|half|percent)\b",
    re.I,
)
#: Words that name people or organisations without a capital letter.
_AGENTS = re.compile(
    r"\b(researchers?|scientists?|company|companies|lab|labs|team|teams|developers?|engineers?|university|who|founders?|inventors?|authors?|google|meta|openai)\b",
    re.I,
)
#: "by Google researchers", "from Meta": an agent named after a preposition of authorship.
_BY_NAME = re.compile(r"\b(?:by|from|at)\s+(?:the\s+)?(?P<name>[A-Z][\w.&-]*[a-zA-Z])")
#: "OpenAI developed ChatGPT": a name doing what people and organisations do.
_NAME_ACTS = re.compile(
    r"\b(?P<name>[A-Z][\w.&-]*)\s+(?:has\s+|have\s+)?(?:developed|created|introduced|proposed|invented|founded|released|built|wrote|designed|trained|published|launched)\b"
)
#: Capitalised words that name no person or organisation.
_NOT_NAMES = frozenset(
    """ai ml nlp gan gans vae vaes llm llms gpu gpus cpu api rgb cnn rnn lstm i the a an in on for with by this these it
    they when while although however as at to of from unlike despite since if each every some many most all both such""".split()
)


@dataclass
class QuestionNeeds:
    """What a sentence must hold to answer a question."""

    answer_type: AnswerType | None
    """The kind of answer the wording asks for, ``None`` for explanations and definitions."""
    terms: list[str]
    """The question's content terms (keyword tokens without question words)."""
    head: list[str] = field(default_factory=list)
    """Terms an answer must contain: the counted X of "how many X", the X of "which X"."""


def analyse_question(question: str) -> QuestionNeeds:
    """Return the answer type, content terms and head terms of ``question``.

    A question of several parts ("which model id ..., and what was it trained from?") asks
    for several kinds of answer at once: it gets no single answer type.
    """
    terms = [t for t in dict.fromkeys(tokenize(question)) if t not in QUESTION_TERMS]
    if question_parts(question):
        return QuestionNeeds(None, terms)
    head: list[str] = []
    answer_type: AnswerType | None = None
    if _PERSON.search(question):
        answer_type = "person"
    elif _DATE.search(question):
        answer_type = "date"
    elif _NUMBER.search(question):
        answer_type = "number"
        counted = _COUNTED.search(question)
        if counted:
            head = tokenize(counted.group(1))
    else:
        thing = _THING.search(question)
        if thing:
            words = thing.group(1).lower().split()
            if words and words[0] not in _NOT_THING_HEADS:
                answer_type = "thing"
                # The noun the question asks about ("which Python *module*"); the words before it
                # narrow it down and the answer may not repeat them.
                head = tokenize(" ".join(words))[-1:]
    return QuestionNeeds(answer_type, terms, head)


def _names_an_agent(sentence: str, question: str) -> bool:
    """Whether ``sentence`` names a person or organisation the question does not already name."""
    if _AGENTS.search(sentence):
        return True
    asked = {w.lower() for w in re.findall(r"[\w.&-]+", question)}
    for match in [*_BY_NAME.finditer(sentence), *_NAME_ACTS.finditer(sentence)]:
        name = match.group("name").lower().rstrip(".")
        if name not in asked and name not in _NOT_NAMES:
            return True
    return False


#: A sentence this similar to the question may name the counted X in its own words
#: ("four interpretations of your prompt" for "how many pictures").
CLOSE_RELEVANCE = 0.55


def has_answer_type(needs: QuestionNeeds, sentence: str, question: str, subject: str = "", relevance: float = 0.0) -> bool:
    """Whether ``sentence`` (under the heading ``subject``) holds the kind of answer asked for."""
    tokens = set(tokenize(sentence)) | set(tokenize(subject))
    close = needs.answer_type == "number" and relevance >= CLOSE_RELEVANCE
    if needs.head and not set(needs.head) <= tokens and not close:
        return False
    if needs.answer_type == "person":
        return _names_an_agent(sentence, question)
    if needs.answer_type == "date":
        return bool(_YEAR.search(sentence))
    if needs.answer_type == "number":
        asked = set(re.findall(r"\d+(?:\.\d+)?", question))
        numbers = set(re.findall(r"\d+(?:\.\d+)?", sentence)) - asked
        return bool(numbers) or bool(_NUMERAL.search(re.sub(r"\d", "", sentence)))
    return True


class TermWeights:
    """Inverse document frequency of keyword tokens over a set of passages."""

    def __init__(self, passages: Iterable[str], headings: Iterable[str] = ()) -> None:
        frequency: Counter[str] = Counter()
        words: set[str] = set()
        count = 0
        for text in passages:
            count += 1
            frequency.update(set(tokenize(text)))
            for word in _WORDS.findall(text.lower()):
                # "ELIZA33": footnote numbers glued to a word; "DALL·E": parts of a name.
                words.update((word, word.rstrip("0123456789"), *re.split(r"[^a-z0-9]+", word)))
        self._frequency = frequency
        self.topics = frozenset(t for heading in headings for t in tokenize(heading))
        """The tokens of the passages' headings: what the documents have sections about."""
        self.words = frozenset(words)
        """Every word of the passages as written, lowercased (``gpt-3``, ``cuda:0``)."""
        self._count = max(count, 1)

    def weight(self, term: str) -> float:
        """Rare terms weigh more; a term no passage contains weighs the most."""
        return math.log(1 + self._count / (1 + self._frequency.get(term, 0)))


_WORDS = re.compile(r"[a-z0-9](?:[\w+.:/-]*[a-z0-9])?")
# A name in a question: a word with a capital past its first letter or a digit ("LoRA", "U-Net",
# "GPT-4", "RLHF"), not the question's first word.
_NAME = re.compile(r"(?<=\s)[A-Za-z0-9][\w+.-]*(?:[A-Z]|\d)[\w+.-]*|(?<=\s)[A-Z]{2,}[\w+-]*")


def unknown_names(question: str, weights: TermWeights) -> list[str]:
    """The names in ``question`` that no passage of the index contains (the course never
    mentions them, so it cannot answer about them)."""
    found = []
    for name in _NAME.findall(" " + question):
        name = name.rstrip(".?!,;:'’s")
        lowered = name.lower()
        parts = [p for p in re.split(r"[^a-z0-9]+", lowered) if len(p) > 1 and not p.isdigit()]
        forms = {lowered, lowered + "s", lowered + "es", lowered.removesuffix("s")}
        if name and not forms & weights.words and not (parts and all(p in weights.words for p in parts)):
            found.append(name)
    return found


def coverage(needs: QuestionNeeds, text: str, weights: TermWeights) -> float:
    """Share of the question's content (IDF-weighted) found in ``text`` (0..1)."""
    if not needs.terms:
        return 1.0
    present = set(tokenize(text))
    total = sum(weights.weight(t) for t in needs.terms)
    return sum(weights.weight(t) for t in needs.terms if t in present) / total if total else 1.0


def content_words(text: str) -> list[str]:
    """Words of ``text`` that carry its topic, for saying what passages are about."""
    return [w for w in re.findall(r"[\w-]+", text) if w.lower() not in STOP_WORDS]
