"""Text handling shared by chunking, keyword search and extractive answers.

- :func:`tokenize`: the tokens BM25 scores with (case folding, punctuation, stop words,
  plural folding).
- :func:`clean_markdown`: markdown and HTML noise removed, for text a learner reads.
- :func:`split_sentences`: the sentences (and list items) of a passage.

Pure Python on purpose: these run on every query and while indexing, and the libraries
that do this well (nltk, spaCy) are not dependencies; a stop-word list and a plural rule
are a few lines, where importing scikit-learn for its list costs 0.7 s.
"""

from __future__ import annotations

import re
import unicodedata

#: English function words: frequent, carry no topic, and drown rarer terms in BM25.
STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing done down during each either
    else etc even ever every few for from further get gets had has have having he her here hers
    herself him himself his how however i if in into is it its itself just least less let like
    may me might more most much must my myself neither no nor not now of off often on once only
    or other others otherwise our ours ourselves out over own per quite rather really same say
    says shall she should since so some such than that the their theirs them themselves then
    there these they this those though through thus to too under until up upon us use used uses
    using very via was we well were what whatever when where whereas whether which while who
    whom whose why will with within without would yet you your yours yourself yourselves
    """.split()
)

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)


def fold_plural(token: str) -> str:
    """Fold an English plural to its singular with Harman's "S-stemmer".

    Only plural endings are touched (``models`` -> ``model``, ``queries`` -> ``query``,
    ``gans`` -> ``gan``); the word stays a word, which keeps BM25 precise.
    """
    if len(token) <= 3 or not token.endswith("s") or token.endswith(("ss", "us", "is")):
        return token
    if token.endswith("ies") and not token.endswith(("eies", "aies")):
        return token[:-3] + "y"
    if token.endswith("es") and not token.endswith(("aes", "ees", "oes")) and token[-3] in "sxz":
        return token[:-2]
    return token[:-1]


def tokenize(text: str) -> list[str]:
    """Return the keyword-search tokens of ``text``.

    Case folding, unicode-aware word splitting (punctuation and markdown symbols drop out;
    ``GPT-2`` gives ``gpt`` and ``2``), apostrophes kept inside words and then dropped
    (``generator's`` -> ``generator``), stop words removed, plurals folded.
    """
    tokens = []
    for match in _WORD.finditer(text.casefold()):
        word = re.sub(r"['’]s?$", "", match.group()).replace("’", "'")
        if not word or word in STOP_WORDS:
            continue
        tokens.append(fold_plural(word))
    return tokens


# --- cleaning -----------------------------------------------------------------------------

_HTML_BLOCK = re.compile(
    r"<(img|div|br|hr|p|span|a|u|b|i|em|strong|sup|sub|center)\b[^>]*>|</(div|p|span|a|u|b|i|em|strong|sup|sub|center)>", re.I
)
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\((?:[^()]|\([^)]*\))*\)")
_EMPHASIS = re.compile(r"(\*{1,3}|_{2,3})(?=\S)(.+?)(?<=\S)\1")
_STRAY_STARS = re.compile(r"\*{2,}")
_INLINE_CODE = re.compile(r"`([^`]+)`")
_HEADING_MARK = re.compile(r"^\s{0,3}#{1,6}\s*", re.M)
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d{1,2}[.)])\s+", re.M)
_SPACES = re.compile(r"[ \t\u00a0]+")


def strip_symbols(text: str) -> str:
    """Remove emoji, pictographs and the joiners and selectors that go with them."""
    out = []
    for ch in text:
        if ch in "\u200d\ufe0f\ufe0e\u20e3":
            continue
        category = unicodedata.category(ch)
        if category in ("So", "Cs", "Co", "Cn") and not ch.isalnum():
            continue
        out.append(ch)
    return "".join(out)


def clean_markdown(text: str) -> str:
    """Return ``text`` as plain prose: no images, HTML tags, emphasis markers, link targets,
    heading or list markers, emoji; whitespace collapsed within lines, line breaks kept."""
    text = _MD_IMAGE.sub(" ", text)
    text = _HTML_BLOCK.sub(" ", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _INLINE_CODE.sub(r"\1", text)
    # Bold labels are often written with the list marker inside: "**- Generator:** text".
    text = re.sub(r"^(\s*)(\*{1,3})\s*[-*+]\s+", r"\1\2", text, flags=re.M)
    for _ in range(2):  # nested emphasis: ***x*** is bold inside italic
        text = _EMPHASIS.sub(r"\2", text)
    text = _STRAY_STARS.sub("", text)
    text = _HEADING_MARK.sub("", text)
    text = _LIST_MARK.sub("", text)
    text = strip_symbols(text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    return "\n".join(lines).strip()


def clean_heading(text: str) -> str:
    """Return a heading's text without markup, emoji, anchors or trailing colons."""
    text = clean_markdown(text.strip().strip("#"))
    return " ".join(text.split()).strip(" :-—|*_")


# --- sentences ----------------------------------------------------------------------------

# Abbreviations after which a period does not end a sentence.
_ABBREVIATIONS = (
    "e.g",
    "i.e",
    "etc",
    "vs",
    "et al",
    "fig",
    "figs",
    "no",
    "approx",
    "cf",
    "dr",
    "mr",
    "ms",
    "mrs",
    "st",
    "inc",
    "ltd",
)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")


def split_sentences(text: str) -> list[str]:
    """Split cleaned prose into sentences; each line (a list item, a paragraph) splits alone.

    Periods after common abbreviations (``e.g.``, ``vs.``, ``et al.``) and inside numbers
    (``1.5``) do not end a sentence.
    """
    sentences: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        start = 0
        for match in _SENTENCE_END.finditer(line):
            before = line[start : match.start()].rstrip("\"'”’)]")
            last_word = before.rsplit(None, 1)[-1].lower().strip(".([\"'“‘") if before.split() else ""
            if last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
                continue
            sentences.append(line[start : match.start()].strip())
            start = match.end()
        tail = line[start:].strip()
        if tail:
            sentences.append(tail)
    return [s for s in sentences if s]
