"""Extractive answers: what may be quoted, under which subject, and when the answer declines."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from genlab.retrieval.abstain import analyse_question, has_answer_type
from genlab.retrieval.candidates import passage_candidates
from genlab.retrieval.chunking import chunk_document
from genlab.retrieval.qa import NOT_COVERED, answer_question, merge_hits, source_entry
from genlab.retrieval.search import Hit

CORPUS = Path(__file__).resolve().parents[1] / "genlab" / "retrieval" / "corpus"
_ATX = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_BOLD = re.compile(r"^\s*\*\*([^*].*?[^:*])\*\*\s*$")


@pytest.fixture(scope="module")
def course_index(session_home):
    import os

    from genlab.retrieval import CourseIndex
    from genlab.settings import get_settings

    os.environ["GENLAB_HOME"] = str(session_home)
    get_settings.cache_clear()
    return CourseIndex("faiss").open()[0]


def _headings_before(document: str) -> list[tuple[int, str]]:
    """(offset, heading text) of every heading line outside code blocks, read independently
    of the chunker: ``#`` lines and whole bold lines."""
    from genlab.retrieval.text import clean_heading

    lines = document.splitlines(keepends=True)
    plain = not any(_ATX.match(line) or _BOLD.match(line) for line in lines)
    out, offset, fenced = [], 0, False
    for number, line in enumerate(lines):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif plain:
            # A text without markup: a short line without a full stop, before a paragraph.
            following = lines[number + 1] if number + 1 < len(lines) else ""
            caption = re.match(r"(figure|fig\.|table)\s*\d", line.strip(), re.I)
            short = line.strip() and len(line.split()) <= 9 and line.strip()[-1] not in ".,;:)]"
            if short and not caption and len(following.split()) > 12:
                out.append((offset, clean_heading(line)))
        elif not fenced:
            match = _ATX.match(line) or _BOLD.match(line)
            if match and clean_heading(match.group(1)):
                out.append((offset, clean_heading(match.group(1))))
        offset += len(line)
    return out


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.md")), ids=lambda p: p.name)
def test_every_chunk_is_labelled_with_the_heading_it_sits_under(path):
    document = path.read_text(encoding="utf-8")
    headings = _headings_before(document)
    chunks = chunk_document(document, path.name)
    offset = 0
    for chunk in chunks:
        anchor = max(chunk.text.splitlines(), key=len)  # the longest line: unique in its document
        offset = document.index(anchor, offset)
        above = [text for at, text in headings if at < offset]
        if not above:
            assert chunk.section == "", chunk.section
            continue
        if chunk.section:
            assert chunk.section.rsplit(" > ", 1)[-1] == above[-1], (chunk.section, above[-1])
        else:
            assert above[-1] == chunk.title, (chunk.title, above[-1])


PASSAGE = """Intro sentence that explains what the generator learns from the data.

- ***Mode Collapse:*** In some cases, GANs may suffer from mode collapse and produce few kinds of samples.
- **Training Stability:** Generally more stable during training compared to GANs.
- Year: 2019

The below example shows the same summarization output.

```python
# For summarization, T5-small expects a prefix "summarize: "
# so we prepend that to each article.
inputs = ["summarize: " + a for a in articles]
# model.to(device)
```
"""


def test_list_items_and_code_comments_become_sentences_without_labels():
    texts = [c.text for c in passage_candidates(PASSAGE, 1, "Pros of Diffusion Models")]
    assert "In some cases, GANs may suffer from mode collapse and produce few kinds of samples." in texts
    assert not any(t.startswith("Mode Collapse") for t in texts)  # the label is not prose
    # A fragment keeps its subject instead of reading as if about the question's topic.
    assert "Pros of Diffusion Models — training stability: generally more stable during training compared to GANs." in texts
    assert "Pros of Diffusion Models — year: 2019." in texts
    assert 'For summarization, T5-small expects a prefix "summarize: " so we prepend that to each article.' in texts
    assert not any("below example" in t or "model.to" in t for t in texts)  # dangling, commented-out code


def _answer_sentences(answer: str) -> list[tuple[str, int]]:
    return [(s.strip(), int(n)) for s, n in re.findall(r"(.+?) \[(\d+)\]", answer)]


@pytest.mark.parametrize(
    ("question", "needle"),
    [
        ("What prefix does T5 need for summarization?", "summarize: "),  # in a code comment
        ("What loss does a diffusion model train with?", "mean squared error"),
        ("When was the transformer architecture introduced?", "2017"),
        ("Which company developed GPT-3?", "OpenAI"),
        ("How many parameters does the t5-small model have?", "60 million"),
    ],
)
def test_the_answering_sentence_is_chosen(course_index, question, needle):
    result = answer_question(question)
    assert not result["declined"] and needle in result["answer"], result["answer"]


def test_sentences_stay_with_their_subject_and_sources_merge(course_index):
    result = answer_question("How are GANs trained?")
    assert not result["declined"]
    for sentence, number in _answer_sentences(result["answer"]):
        section = result["sources"][number - 1]["section"]
        # A sentence from a section about something else names what it is about.
        assert "GAN" in sentence or "GAN" in section or "Adversarial" in section or "Diffusion" in sentence, (sentence, section)
        assert not re.match(r"^[A-Z][\w-]*(?: [\w-]+){0,2}: ", sentence), sentence  # no bullet label as prose
    places = [(s["source"], s["section"]) for s in result["sources"]]
    assert len(places) == len(set(places))
    assert result["cited"] == sorted({n for _, n in _answer_sentences(result["answer"])})


@pytest.mark.parametrize(
    "question",
    [
        "Who invented GANs?",  # who: no person named
        "When was Stable Diffusion first released?",  # when: no date
        "How many parameters does GPT-3 have?",  # how many: no count of parameters
        "Which optimizer is recommended for training diffusion models?",  # which X: no X
        "How do I fine-tune Stable Diffusion with LoRA on my own photos?",  # a name the course never uses
        "What is the best recipe for sourdough bread?",  # off topic
    ],
)
def test_questions_the_course_does_not_answer_are_declined(course_index, question):
    result = answer_question(question)
    assert result["declined"] and result["answer"].startswith(NOT_COVERED)
    assert "The closest passages are about '" in result["answer"] and "[" not in result["answer"].split("about", 1)[1]
    assert result["cited"] == []


@pytest.mark.parametrize(
    ("question", "kind", "head"),
    [
        ("Who invented GANs?", "person", []),
        ("Which company made BERT?", "person", []),
        ("When was BERT released?", "date", []),
        ("In what year did GPT-3 appear?", "date", []),
        ("How many layers does BERT have?", "number", ["layer"]),
        ("How much memory does it need?", "number", []),
        ("Which optimizer should I use?", "thing", ["optimizer"]),
        ("What sampling rate does MusicGen use?", "thing", ["rate"]),
        ("Which Python module is mentioned for LLM tools?", "thing", ["module"]),
        ("When should I choose a GAN?", None, []),  # a condition, not a date
        ("When we load the model, which device is used?", None, []),  # "when" opens a clause
        ("Which company made BERT, and what year was it released?", None, []),  # two kinds of answer
        ("What is a GAN?", None, []),
        ("What does the discriminator do?", None, []),
        ("How do diffusion models work?", None, []),
    ],
)
def test_expected_answer_types(question, kind, head):
    needs = analyse_question(question)
    assert (needs.answer_type, needs.head) == (kind, head)


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("Who made BERT?", "BERT, introduced by Google researchers, marked an advance.", True),
        ("Who made BERT?", "BERT reads text in both directions at once.", False),
        ("When was ELIZA written?", "ELIZA was written at MIT in the 1960s.", True),
        ("When was ELIZA written?", "ELIZA was written at MIT.", False),
        ("How many layers does BERT have?", "BERT has 12 layers.", True),
        ("How many layers does BERT have?", "BERT has 110 million parameters.", False),
        ("How many images does DALL-E 2 return?", "DALL-E 2 returns four images.", True),
    ],
)
def test_sentences_are_checked_for_the_answer_type(question, sentence, expected):
    assert has_answer_type(analyse_question(question), sentence, question) is expected


def test_a_pdf_page_is_kept_with_its_source():
    from genlab.cli.retrieval import source_line

    chunk = SimpleNamespace(id="x", text="Some text.", source="notes.pdf", title="Notes", section="Intro", position=0, page=3)
    entry = source_entry(merge_hits([Hit(chunk, 0.9)])[0])
    assert entry["page"] == 3 and source_line(entry) == "Notes > Intro (notes.pdf p. 3)"
