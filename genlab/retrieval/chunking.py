"""Structure-aware chunking: sections follow the documents' headings, code blocks stay whole.

The course documents mix styles: ``#`` headings, headings written as a bold line
(``**Preface**``), and plain text whose headings are short lines without a full stop. All
three become a heading path (``section``), which is kept with every chunk and prepended to
the text that is embedded and keyword-indexed, so "Training process" under "GANs" and under
"Diffusion models" stay distinguishable.

LangChain's MarkdownHeaderTextSplitter handles only ``#`` headings and splits code blocks;
RecursiveCharacterTextSplitter ignores structure altogether (it is the baseline in
benchmarks/retrieval_quality.py), hence this module.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from genlab.retrieval.text import clean_heading, clean_markdown, split_sentences

#: Words of prose per chunk. all-MiniLM-L6-v2 reads 256 word pieces (about 190 English
#: words); of 120, 160 and 200-word targets on the dev set, 160 ranked best in hybrid search.
TARGET_WORDS = 160
MAX_WORDS = 200
#: Bumped when chunking changes, so that indexes re-chunk unchanged files (their vectors are
#: reused wherever a chunk's text is the same).
CHUNKER_VERSION = 5

_ATX = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
# A whole line in bold is a heading; "**Example:**" is a label that introduces text, not one.
_BOLD_LINE = re.compile(r"^\s*\*\*([^*].*?[^:*])\*\*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
#: A whole bold line this long is still a heading: the course's "How Are Generative AI Models
#: Created? Big Budgets and Open Source" has 11 words, and at 10 its passages were labelled
#: with the section before it.
MAX_BOLD_HEADING_WORDS = 16
_FIGURE = re.compile(r"^(figure|fig\.|table)\s*\d", re.I)


@dataclass
class Chunk:
    """A passage of a document with where it comes from."""

    text: str
    """The passage as written (markdown kept)."""
    source: str
    """The file it comes from (a name relative to its folder)."""
    title: str
    """The document's title."""
    section: str
    """The heading path inside the document, ``A > B``; empty before the first heading."""
    position: int = 0
    """Order of the chunk in its document."""
    id: str = field(default="")
    """A hash of where the chunk comes from and its text (given ids are checked on load)."""
    page: int | None = None
    """The page of a PDF it comes from (1-based); None for other files."""

    def __post_init__(self) -> None:
        if not self.id:
            where = f"{self.source}\n{self.section}" if self.page is None else f"{self.source}\np{self.page}\n{self.section}"
            self.id = hashlib.sha256(f"{where}\n{self.text}".encode()).hexdigest()[:32]

    @property
    def context_text(self) -> str:
        """What is embedded and keyword-indexed: title and heading path, then the passage as
        plain prose (image tags and URLs would spend the encoder's 256 word pieces on noise)."""
        heading = " > ".join(part for part in (self.title, self.section) if part)
        text = clean_markdown(self.text)
        return f"{heading}\n{text}" if heading else text

    def metadata(self) -> dict[str, object]:
        """Where the chunk comes from; ``page`` only for a PDF's chunks (Chroma refuses None values)."""
        meta: dict[str, object] = {"id": self.id, "source": self.source, "title": self.title, "section": self.section}
        meta["position"] = self.position
        if self.page is not None:
            meta["page"] = self.page
        return meta


@dataclass
class _Block:
    kind: str  # "heading", "text", "code"
    text: str
    level: int = 0


def _is_plain_heading(line: str, next_line: str | None) -> bool:
    """A short line without a full stop, followed by prose, in a document without markup."""
    stripped = line.strip()
    words = stripped.split()
    if not words or len(words) > 9 or len(stripped) > 70 or _FIGURE.match(stripped):
        return False
    if stripped[-1] in ".,;:)]" or stripped.startswith(("-", "*", "|", ">", "<", "!", "[")) or stripped[0].isdigit():
        return False
    if not stripped[0].isupper():
        return False
    return next_line is not None and len(next_line.split()) > 12


def parse_blocks(text: str) -> list[_Block]:
    """Split a document into headings, paragraphs and whole code blocks."""
    lines = text.splitlines()
    uses_markup = any(_ATX.match(line) or _BOLD_LINE.match(line) for line in lines)
    blocks: list[_Block] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph and any(p.strip() for p in paragraph):
            blocks.append(_Block("text", "\n".join(paragraph).strip()))
        paragraph.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        if opening := _FENCE.match(line):
            flush()
            fence = opening.group(1)
            code = [line]
            i += 1
            while i < len(lines):
                code.append(lines[i])
                if lines[i].strip().startswith(fence):
                    break
                i += 1
            blocks.append(_Block("code", "\n".join(code)))
            i += 1
            continue
        atx = _ATX.match(line)
        bold = _BOLD_LINE.match(line)
        next_line = next((candidate for candidate in lines[i + 1 :] if candidate.strip()), None)
        if atx and clean_heading(atx.group(2)):
            flush()
            blocks.append(_Block("heading", clean_heading(atx.group(2)), len(atx.group(1))))
        elif bold and len(bold.group(1).split()) <= MAX_BOLD_HEADING_WORDS and clean_heading(bold.group(1)):
            flush()
            blocks.append(_Block("heading", clean_heading(bold.group(1)), 7))  # below any '#' level
        elif not uses_markup and _is_plain_heading(line, next_line):
            flush()
            blocks.append(_Block("heading", clean_heading(line), 2))
        elif not line.strip():
            flush()
        elif not uses_markup:
            # Plain documents put one paragraph on each line.
            flush()
            paragraph.append(line)
            flush()
        else:
            paragraph.append(line)
        i += 1
    flush()
    return blocks


def _no_prose(text: str) -> bool:
    """A lone image or a figure caption: nothing a learner's question could be answered by."""
    prose = clean_markdown(text)
    return len(prose.split()) < 4 or (bool(_FIGURE.match(prose)) and len(prose.split()) < 15)


def _words(text: str) -> int:
    """Words of prose, the unit chunk sizes are counted in (markup and URLs do not count)."""
    return len(clean_markdown(text).split())


def _split_long(text: str) -> list[str]:
    """Split a paragraph longer than MAX_WORDS at sentence ends (never inside a sentence)."""
    if _words(text) <= MAX_WORDS:
        return [text]
    parts: list[str] = []
    current: list[str] = []
    for sentence in split_sentences(" ".join(text.split())):
        if current and len(" ".join(current + [sentence]).split()) > TARGET_WORDS:
            parts.append(" ".join(current))
            current = []
        current.append(sentence)
    if current:
        parts.append(" ".join(current))
    return parts


def chunk_document(text: str, source: str, title: str | None = None, page: int | None = None) -> list[Chunk]:
    """Chunk one document along its headings.

    Args:
        text: The document (markdown or plain text).
        source: Its file name, kept in the metadata.
        title: Its title; defaults to its first heading, else the file name.
        page: The PDF page the text is, kept in every chunk (None for other files).

    Returns:
        Chunks in document order; none crosses a section boundary, code blocks are never split.
    """
    blocks = parse_blocks(text)
    if title is None:
        first = next((b for b in blocks if b.kind == "heading"), None)
        title = first.text if first else source.rsplit("/", 1)[-1].rsplit(".", 1)[0].replace("-", " ").capitalize()
    stack: list[tuple[int, str]] = []
    chunks: list[Chunk] = []
    pending: list[str] = []

    first = next((b for b in blocks if b.kind == "heading"), None)
    # The document's own H1 is its title, even when a better title is given: not a section.
    doc_heading = first.text if first is not None and first.level == 1 else title

    def section() -> str:
        names = [name for _, name in stack]
        if names and names[0] in (title, doc_heading):
            names = names[1:]
        return " > ".join(names)

    def emit() -> None:
        # A passage with no prose (a lone image, a figure caption) is nothing to retrieve.
        if pending and not _no_prose("\n\n".join(pending)):
            chunks.append(Chunk("\n\n".join(pending), source, title, section(), len(chunks), page=page))
        pending.clear()

    for block in blocks:
        if block.kind == "heading":
            emit()
            while stack and stack[-1][0] >= block.level:
                stack.pop()
            stack.append((block.level, block.text))
            continue
        pieces = [block.text] if block.kind == "code" else _split_long(block.text)
        for piece in pieces:
            if pending and _words("\n".join(pending)) + _words(piece) > TARGET_WORDS:
                emit()
            pending.append(piece)
    emit()
    return chunks
