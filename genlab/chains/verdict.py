"""Reading a moderator LLM's answer to "is this story kid-friendly?" — strictly, failing closed.

Real models answer in a handful of shapes: a plain answer that starts with yes or no
("Yes, this story is kid-friendly.", "**No.** It describes violence."), sometimes after a
label ("Answer: Yes"), and JSON (``{"kid_friendly": true, "reason": "..."}``), often in a
code fence. :func:`parse_verdict` accepts exactly those shapes. Everything else — an empty
answer, rambling that never starts with yes or no, an answer that says both ("Yes and
no", "Yes... however it is not suitable") — is *unreadable*, and an unreadable verdict is
a rejection: a story is never approved because the parser guessed.

This is hand-written rather than a LangChain output parser because none of them fails
closed: ``BooleanOutputParser`` raises on anything but a bare YES/NO and
``JsonOutputParser`` accepts any JSON; here every outcome must be a verdict with a reason.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel

from genlab.chains.prompts import strip_thinking

#: Longest part of an unreadable answer quoted back in the reason.
QUOTE_CHARS = 80

_FENCE = re.compile(r"^```[\w+-]*[ \t]*\n?(?P<body>.*?)\n?[ \t]*```$", re.DOTALL)
# Markdown and quoting noise in front of the answer word: "**Yes**", "> Yes", '"Yes"', "# No".
_NOISE = re.compile(r"^[\s*_#>\"'`“”‘’]+")
# A short label some models put before the answer: "Answer: Yes", "**Verdict:** No".
_LABEL = re.compile(r"^(?:answer|verdict|response|kid[- ]friendly\??)\s*[:\-–—]\s*", re.IGNORECASE)
# The answer word, as a whole word: not "Yesterday", not "Nobody", not "no-one".
_ANSWER = re.compile(r"^(?P<word>yes|no)(?![\w'’-])", re.IGNORECASE)
_REASON_LEAD = re.compile(r"^[\s.,;:!*_\-–—)\]\"'`”’]+")

_JSON_DECISION_KEYS = ("kid_friendly", "kid-friendly", "kidFriendly", "is_kid_friendly", "answer", "verdict")
_JSON_REASON_KEYS = ("reason", "reasons", "explanation", "why")
_TRUE_WORDS = {"yes", "true"}
_FALSE_WORDS = {"no", "false"}

# Suitability words that a negation turns into a "no": "not suitable", "isn't kid-friendly",
# "not really appropriate for young children".
_SUITABLE = (
    r"(?:kid|child|children|family)[- ]?friendly|suitable|appropriate|safe|okay|ok|recommended"
    r"|for (?:young |small |little )?(?:children|kids)"
)
# Up to three words may sit between them, but not a word that starts a new clause: "not
# violent and is safe" is not a negated "safe".
_CLAUSE = r"(?:and|but|so|because|while|although|though|yet|or|which|whereas)"
_NEGATED_SUITABLE = re.compile(
    rf"\b(?:not|never|hardly|\w+n[’']t)\s+(?:(?!{_CLAUSE}\b)[\w’'-]+\s+){{0,3}}?(?:{_SUITABLE})\b", re.IGNORECASE
)
# Words that say "unsuitable" on their own, unless a negation comes just before them
# ("contains no inappropriate content", "nothing too scary").
_UNSUITABLE = re.compile(
    r"\b(?:unsuitable|inappropriate|age[- ]inappropriate|unsafe|too (?:scary|violent|frightening|dark|mature|graphic))\b",
    re.IGNORECASE,
)
_NEGATORS = {"no", "not", "nothing", "without", "free", "never", "none", "lacks", "lacking", "any", "anything"}


class ModeratorVerdict(BaseModel):
    """One moderator's decision about one story."""

    kid_friendly: bool
    """True only for a readable, unambiguous approval."""
    reason: str
    """Why, in words: the moderator's own reason, or why its answer could not be read."""
    readable: bool = True
    """False when the answer was empty, rambling or contradictory (then ``kid_friendly`` is False)."""
    source: Literal["llm", "classifier", "story"] = "llm"
    """Which moderator gave it (``story``: the chain itself, for a draft that is not a story)."""
    raw: str = ""
    """The moderator's answer as it came (the classifier's labels and scores for a classifier)."""

    def summary(self) -> str:
        """One sentence for the human-readable verdict."""
        if self.source == "story":
            return _sentence(self.reason[:1].upper() + self.reason[1:])
        who = "Moderator LLM" if self.source == "llm" else "Classifier"
        if not self.readable:
            return f"{who}: {self.reason}."
        answer = "yes" if self.kid_friendly else "no"
        if self.source == "classifier":
            return f"{who}: {answer} ({self.reason})."
        return f"{who} said {answer}: {_sentence(self.reason)}"


def parse_verdict(text: str) -> ModeratorVerdict:
    """Read a moderator LLM's answer to "is this story kid-friendly?".

    Accepted shapes (case, surrounding whitespace, markdown emphasis and a leading
    ``<think>`` block do not matter):

    - a plain answer whose first word is ``yes`` or ``no`` (optionally after a label
      such as ``Answer:``); the rest is the reason;
    - a JSON object with a boolean ``kid_friendly`` (or ``"yes"``/``"no"``) and a
      ``reason``, bare or in a code fence.

    Anything else is unreadable and counts as *not* kid-friendly. So does an answer that
    contradicts itself: an approval followed by "no", "not suitable", "inappropriate"...,
    or a JSON verdict whose keys disagree.

    Args:
        text: The moderator's answer.

    Returns:
        The verdict; ``kid_friendly`` is True only for a clear, consistent yes.
    """
    raw = text if isinstance(text, str) else str(text)
    body = strip_thinking(raw).strip()
    if not body:
        return _unreadable(raw, "the answer was empty")
    fence = _FENCE.match(body)
    if fence:
        body = fence.group("body").strip()
        if not body:
            return _unreadable(raw, "the answer was an empty code block")
    if body.startswith(("{", "[")):
        return _parse_json(body, raw)
    return _parse_plain(body, raw)


def _parse_plain(body: str, raw: str) -> ModeratorVerdict:
    head = _NOISE.sub("", body)
    head = _NOISE.sub("", _LABEL.sub("", head, count=1))
    match = _ANSWER.match(head)
    if not match:
        return _unreadable(raw, "it does not start with yes or no")
    approve = match.group("word").lower() == "yes"
    rest = head[match.end() :]
    if _names_opposite(rest, "no" if approve else "yes"):
        return _unreadable(raw, "it answers both yes and no")
    reason = _clean_reason(rest) or "no reason given"
    if approve and _says_unsuitable(rest):
        return _unreadable(raw, "it says yes but also that the story is not suitable")
    return ModeratorVerdict(kid_friendly=approve, reason=reason, raw=raw)


def _parse_json(body: str, raw: str) -> ModeratorVerdict:
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        return _unreadable(raw, "it looks like JSON but is not valid JSON")
    if not isinstance(data, dict):
        return _unreadable(raw, "the JSON is not an object with a kid_friendly field")
    decisions = [_as_bool(data[key]) for key in _JSON_DECISION_KEYS if key in data]
    if not decisions:
        return _unreadable(raw, "the JSON has no kid_friendly field")
    if any(value is None for value in decisions):
        return _unreadable(raw, "the JSON's kid_friendly is not true/false or yes/no")
    if len(set(decisions)) > 1:
        return _unreadable(raw, "the JSON answers both yes and no")
    approve = bool(decisions[0])
    reason = next((_as_reason(data[key]) for key in _JSON_REASON_KEYS if key in data), "") or "no reason given"
    if approve and _says_unsuitable(reason):
        return _unreadable(raw, "the JSON says kid_friendly but its reason says the story is not suitable")
    return ModeratorVerdict(kid_friendly=approve, reason=reason, raw=raw)


def _as_bool(value: Any) -> bool | None:
    # bool only, not int: ``1`` is not a verdict (and True == 1 in Python).
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().strip(".!").lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    return None


def _as_reason(value: Any) -> str:
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "; ".join(" ".join(v.split()) for v in value if v.strip())
    return ""


def _names_opposite(rest: str, opposite: str) -> bool:
    """Whether the text after the answer word gives the opposite answer too.

    "Yes and no", "Yes/No", "Yes. No.", "Yes, well, no!" do; "Yes, no violence at all" and
    "No. There is no happy ending" do not (there "no" starts a phrase, it is not an answer).
    """
    word = re.escape(opposite)
    # Right after the answer: "Yes and no", "yes or no", "Yes/no", "No & yes".
    joined = re.compile(
        rf"^[\s,]*(?:(?:and|or|but|&)\s+(?:also\s+)?|/\s*){word}(?=\s*(?:$|[.!?,;:\-–—(])|\s+(?:it|this|that|the|depends|but|because|not)\b)",
        re.IGNORECASE,
    )
    if joined.match(rest):
        return True
    # A later sentence, line or clause that is only the opposite answer: "Yes.\nNo, wait".
    standalone = re.compile(rf"(?:^|[.!?;,:\n(])\s*[*_\"'“‘]*{word}[*_\"'”’]*\s*(?=$|[.!?,;:\n)])", re.IGNORECASE)
    return bool(standalone.search(rest))


def _says_unsuitable(text: str) -> bool:
    """Whether ``text`` says the story is not suitable ("not kid-friendly", "inappropriate")."""
    if _NEGATED_SUITABLE.search(text):
        return True
    for match in _UNSUITABLE.finditer(text):
        before = re.findall(r"[\w’'-]+", text[: match.start()].lower())[-3:]
        if not _NEGATORS.intersection(before) and not any(w.endswith(("n't", "n’t")) for w in before):
            return True
    return False


def _clean_reason(rest: str) -> str:
    reason = _REASON_LEAD.sub("", rest.replace("**", "").replace("__", ""))
    return " ".join(reason.split())


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _unreadable(raw: str, why: str) -> ModeratorVerdict:
    flat = " ".join(raw.split())
    quote = flat if len(flat) <= QUOTE_CHARS else flat[: QUOTE_CHARS - 3] + "..."
    reason = f"unreadable verdict ({why}), so the story is not approved"
    if quote:
        reason += f"; the answer was {quote!r}"
    return ModeratorVerdict(kid_friendly=False, reason=reason, readable=False, raw=raw)
