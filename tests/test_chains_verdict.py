"""The moderator-verdict parser: what real models answer is read; anything else fails closed."""

from __future__ import annotations

import pytest

from genlab.chains.verdict import parse_verdict

APPROVE, REJECT, UNREADABLE = "approve", "reject", "unreadable"

CASES = [
    # Plain answers that start with yes / no.
    ("Yes, this story is kid-friendly.", APPROVE),
    ("yes", APPROVE),
    ("Yes!", APPROVE),
    ("  YES.  It is wholesome and gentle.  ", APPROVE),
    ("**Yes**, it's a lovely adventure.", APPROVE),
    ("**Yes.** Nothing scary happens.", APPROVE),
    ("Answer: Yes - a gentle tale.", APPROVE),
    ("**Answer:** yes, fine for kids.", APPROVE),
    ("> Yes, it is appropriate.", APPROVE),
    ('"Yes", it is.', APPROVE),
    ("<think>Let me check the story.</think>\nYes, it is friendly.", APPROVE),
    ("Yes, there is no violence and nothing inappropriate.", APPROVE),
    ("Yes, it does not contain anything inappropriate.", APPROVE),
    ("Yes, no violence at all.", APPROVE),
    ("Yes, it's not violent and is safe for children.", APPROVE),
    ("Yes, it is not too scary.", APPROVE),
    ("No. It describes violence.", REJECT),
    ("no", REJECT),
    ("No, the dragon eats the villagers.", REJECT),
    ("**No** - too frightening for young children.", REJECT),
    ("Verdict: No. Contains a murder.", REJECT),
    ("No. There is no happy ending.", REJECT),
    # JSON verdicts, bare or fenced.
    ('{"kid_friendly": true, "reason": "A gentle story."}', APPROVE),
    ('{"kid_friendly": false, "reason": "Violence."}', REJECT),
    ('```json\n{"kid_friendly": true, "reason": "gentle"}\n```', APPROVE),
    ('```\n{"kid_friendly": false, "reasons": ["scary", "violent"]}\n```', REJECT),
    ('{"kid_friendly": "yes", "reason": "fine"}', APPROVE),
    ('{"kid_friendly": "No"}', REJECT),
    ('  {"kid_friendly": true}  ', APPROVE),
    ("```\nNo, it has a murder in it.\n```", REJECT),
    # Contradictory: fail closed.
    ("Yes and no", UNREADABLE),
    ("Yes and no, it depends on the child.", UNREADABLE),
    ("Yes or no: hard to say.", UNREADABLE),
    ("Yes/No", UNREADABLE),
    ("Yes... however it is not suitable for young children.", UNREADABLE),
    ("Yes, but it is not what I'd consider appropriate for kids.", UNREADABLE),
    ("Yes, although it isn't kid-friendly.", UNREADABLE),
    ("Yes, it is inappropriate.", UNREADABLE),
    ("Yes. No.", UNREADABLE),
    ("Yes.\nNo, wait, the ending is gory.", UNREADABLE),
    ("No and yes", UNREADABLE),
    ("No. Yes.", UNREADABLE),
    ('{"kid_friendly": true, "reason": "It is not suitable for kids."}', UNREADABLE),
    ('{"kid_friendly": "yes", "answer": "no"}', UNREADABLE),
    # Unreadable: not yes/no first, not a verdict.
    ("", UNREADABLE),
    ("   \n\t ", UNREADABLE),
    ("``` ```", UNREADABLE),
    ("<think>hmm</think>", UNREADABLE),
    ("The story follows a brave adventurer through an enchanted forest. Overall, yes, it is fine.", UNREADABLE),
    ("I think the story is kid-friendly. Yes.", UNREADABLE),
    ("Absolutely, it is kid-friendly.", UNREADABLE),
    ("Yesterday the story was fine.", UNREADABLE),
    ("Nobody would object to it.", UNREADABLE),
    ("Maybe.", UNREADABLE),
    ("Kid-friendly? It depends.", UNREADABLE),
    ('{"kid_friendly": 1}', UNREADABLE),
    ('{"kid_friendly": "probably"}', UNREADABLE),
    ('{"reason": "no decision here"}', UNREADABLE),
    ('["yes"]', UNREADABLE),
    ('{"kid_friendly": true', UNREADABLE),
]


@pytest.mark.parametrize(("answer", "expected"), CASES)
def test_verdict_table(answer: str, expected: str) -> None:
    verdict = parse_verdict(answer)
    if expected == APPROVE:
        assert verdict.kid_friendly and verdict.readable, verdict.reason
    elif expected == REJECT:
        assert not verdict.kid_friendly and verdict.readable, verdict.reason
    else:
        assert not verdict.kid_friendly and not verdict.readable
        assert "unreadable" in verdict.reason


def test_reasons_are_the_moderators_own_words() -> None:
    assert parse_verdict("No. It describes violence.").reason == "It describes violence."
    assert parse_verdict("**Yes**, it's a lovely adventure.").reason == "it's a lovely adventure."
    assert parse_verdict('{"kid_friendly": false, "reasons": ["scary", "violent"]}').reason == "scary; violent"
    assert parse_verdict("Yes").reason == "no reason given"


def test_unreadable_reason_says_why_and_quotes_the_answer_briefly() -> None:
    rambling = "The story follows a brave adventurer. " * 20 + "So yes."
    verdict = parse_verdict(rambling)
    assert "does not start with yes or no" in verdict.reason
    assert "The story follows a brave adventurer." in verdict.reason
    assert len(verdict.reason) < 250  # quoted, not pasted whole
    assert verdict.raw == rambling
    assert "empty" in parse_verdict("").reason
    assert "both yes and no" in parse_verdict("Yes and no").reason


def test_summary_is_one_human_readable_sentence() -> None:
    assert parse_verdict("No. It describes violence.").summary() == "Moderator LLM said no: It describes violence."
    assert parse_verdict("Yes").summary() == "Moderator LLM said yes: no reason given."
    assert parse_verdict("Maybe").summary().startswith("Moderator LLM: unreadable verdict")
