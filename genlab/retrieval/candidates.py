"""The sentences an extractive answer may quote, each with the subject it belongs to.

A passage is more than prose: list items (``- **Mode Collapse:** GANs may ...``), code
comments (``# T5-small expects a prefix "summarize: "``) and label lines (``Year: 2018``)
hold answers too. Each becomes a readable sentence here:

- a list item's bold label is dropped when the rest is a sentence of its own; when the rest
  is a fragment ("Generally more stable during training"), the item is made into a sentence
  that names its subject and label ("Pros of Diffusion Models — training stability: ...");
- consecutive comment lines of a code block join into one sentence (commented-out code does not);
- sentences that point at something the answer cannot show ("The below example ...",
  "as shown above") and signposts about the document ("In this chapter, we will") are dropped.

Every candidate keeps its ``subject`` (the heading it sits under), so an answer can refuse a
sentence that only makes sense under its own heading (a diffusion-model sentence without the
word "diffusion" must not be read as an answer about GANs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from genlab.retrieval.text import clean_markdown, split_sentences, tokenize

_CODE_BLOCK = re.compile(r"(```|~~~)[^\n]*\n(.*?)(?:\1|$)", re.S)
_COMMENT = re.compile(r"^\s*(?:#|//)\s?(.*)$")
# "Mode Collapse: text", "Year: 2018": a short label before a colon at the start of a line.
_LABEL = re.compile(r"^([A-Z][^:.!?]{0,48}?):\s+(\S.*)$")
_DANGLING = re.compile(
    r"\b(the|this|these|that)\s+(below|above|following)\b|\b(shown|see|seen|listed|given|described|as)\s+(below|above)\b"
    r"|^(below|above|here)\b|\bhere's\b|\bhere is\b|\bthe (image|picture|figure|code|output|snippet|cell)s? (below|above)\b",
    re.I,
)
#: Sentences about the document rather than the subject ("In this chapter, we will...").
_SIGNPOSTS = (
    "this article",
    "this chapter",
    "this section",
    "this book",
    "we will ",
    "we'll ",
    "we’ll ",
    "let's ",
    "let’s ",
    "let us ",
    "below, ",
)
#: A sentence opening with one of these leans on the sentence before it.
ANAPHORA = ("it", "its", "this", "these", "they", "their", "such", "those", "that", "he", "she", "them")
_AUXILIARIES = frozenset(
    "is are was were be been being can could may might will would should must has have had does do did".split()
)
#: Openings of a list item's text that has no subject of its own ("Generally more stable ...").
_FRAGMENT_OPENINGS = frozenset(
    """more less better worse higher lower faster slower greater requires provides allows offers enables
    introduces produces generates uses supports can may generally often typically usually highly very
    mostly only limited difficult easy prone""".split()
)


@dataclass
class Candidate:
    """A sentence an answer may quote."""

    source: int
    """The number of the source it comes from (1-based)."""
    position: int
    """Its order within its source."""
    text: str
    """The sentence as the answer shows it."""
    key: str
    """The sentence as the index split and embedded it (looks up its stored vector)."""
    subject: str
    """The heading it sits under (the document title before the first heading)."""
    made: bool = False
    """Made from a list item or a code comment, naming its subject (not quoted as written)."""

    @property
    def leans_back(self) -> bool:
        """Whether it opens with a pronoun that refers to the sentence before it."""
        first = self.text.split(None, 1)[0].lower().strip(",.;:") if self.text.split() else ""
        return first in ANAPHORA


def _usable(sentence: str) -> bool:
    words = sentence.split()
    letters = sum(ch.isalpha() for ch in sentence)
    if not 5 <= len(words) <= 70 or letters < 0.6 * len(sentence) or sentence.rstrip().endswith(":"):
        return False
    lowered = sentence.lower()
    if lowered.startswith(("figure", "fig.", "table", "source:", "image:")) or any(m in lowered for m in _SIGNPOSTS):
        return False
    return not _DANGLING.search(sentence)


def _is_fragment(text: str) -> bool:
    """A list item's text that is no sentence: no verb it could stand on, or no subject."""
    words = text.split()
    if len(words) < 5:
        return True
    first = words[0].lower().strip(",.;:")
    has_auxiliary = any(w.lower().strip(",.;:") in _AUXILIARIES for w in words)
    return not has_auxiliary and (first in _FRAGMENT_OPENINGS or first.endswith("ly") or not words[0][0].isupper())


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _comments(code: str) -> list[str]:
    """The prose comments of a code block; consecutive comment lines form one sentence."""
    runs: list[list[str]] = [[]]
    for line in code.splitlines():
        match = _COMMENT.match(line)
        if match and match.group(1).strip():
            runs[-1].append(match.group(1).strip())
        elif runs[-1]:
            runs.append([])
    out = []
    for run in runs:
        text = " ".join(run)
        # Commented-out code ("# model.to(device)") is code, not a remark about it.
        if len(text.split()) >= 5 and not re.search(r"[=(){}\[\]]\S|^\w+\.\w+", text):
            out.append(_sentence(text))
    return out


def passage_candidates(text: str, source: int, subject: str) -> list[Candidate]:
    """The candidate sentences of one passage (markdown as written), in reading order."""
    out: list[Candidate] = []
    comments: list[str] = []

    def keep_code(match: re.Match[str]) -> str:
        comments.extend(_comments(match.group(2)))
        return "\n"

    prose = _CODE_BLOCK.sub(keep_code, text)
    for line in clean_markdown(prose).splitlines():
        label = _LABEL.match(line)
        if label and len(label.group(1).split()) <= 6:
            name, rest = label.group(1).strip(), label.group(2).strip()
            first, *others = split_sentences(rest) or [rest]
            # The index embedded the line's first sentence with its label: look it up so.
            key = (split_sentences(line) or [line])[0]
            if _is_fragment(first):
                made = f"{subject} — {name.lower()}: {first[0].lower() + first[1:] if first[1:2].islower() else first}"
                out.append(Candidate(source, len(out), _sentence(made), key, subject, made=True))
            elif _usable(first):
                out.append(Candidate(source, len(out), first, key, subject))
            for sentence in others:
                if _usable(sentence):
                    out.append(Candidate(source, len(out), sentence, sentence, subject))
            continue
        for sentence in split_sentences(line):
            if _usable(sentence):
                out.append(Candidate(source, len(out), sentence, sentence, subject))
    for comment in comments:
        if _usable(comment) or len(comment.split()) >= 5:
            out.append(Candidate(source, len(out), comment, comment, subject, made=True))
    return out


#: Heading words that name no topic of their own ("Pros of ...", "Training Process in ...").
GENERIC_HEADING_WORDS = frozenset(
    """pro con strength weakness advantage disadvantage challenge limitation introduction overview
    training train process model architecture explained work works type kind key feature component
    example case application fundamental basic step summary conclusion part how comparison side
    generation generative ai first our understanding tool technique here several two widely one
    popular learning machine deep network data use""".split()
)


def topic_terms(text: str) -> set[str]:
    """The tokens of a heading or question that name a topic (``GANs`` -> ``gan``)."""
    return {t for t in tokenize(text) if t not in GENERIC_HEADING_WORDS and not t.isdigit()}
