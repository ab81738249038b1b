"""What a question asks for, as search sees it: its parts and the identifiers it quotes.

- Multi-part questions ("How big is the small T5 model, and who made it?", "Which company
  made BERT and which year was it released?") need two facts that often sit in different
  sections; a single search ranks the passage of one part and buries the other.
  :func:`question_parts` splits at "and" / "as well as" followed by another question, and a
  part that refers back ("who made *it*") borrows the first part's words.
- Identifiers written in code and links (``cuda:0``, ``t5-small``,
  ``runwayml/stable-diffusion-v1-5``, ``torch_dtype``) are tokenized into common words by
  keyword search and blurred by embeddings; :func:`identifiers` finds them so that search
  can match them as written.
"""

from __future__ import annotations

import re

from genlab.retrieval.text import STOP_WORDS, tokenize

_SPLIT = re.compile(
    r",?\s+(?:and|as well as|plus|also)\s+(?=(?:what|which|who|whom|whose|when|where|why|how|is|are|does|do|did|can|could)\b)",
    re.I,
)
_REFERS_BACK = re.compile(r"\b(it|its|it's|they|them|their|this|that|these|those|he|she|his|her)\b", re.I)
# A word with a separator or digit inside that is not plain prose: cuda:0, t5-small, gpt2,
# file.py, org/model-name, snake_case, `quoted`.
_IDENTIFIER = re.compile(
    r"`([^`]{2,80})`|(?<![\w/.:-])((?=[\w/.:-]*[a-z])[A-Za-z0-9][\w]*(?:[:/._-][\w]+)+|[A-Za-z]+\d[\w]*)(?![\w/.:-])"
)


def question_parts(question: str) -> list[str]:
    """The parts of a multi-part question (empty for a question with one part)."""
    pieces = [p.strip(" ,;?") for p in _SPLIT.split(question) if p.strip(" ,;?")]
    if len(pieces) < 2:
        return []
    subject = " ".join(t for t in tokenize(pieces[0]) if t not in STOP_WORDS)
    parts = [pieces[0]]
    for piece in pieces[1:]:
        parts.append(f"{piece} {subject}" if _REFERS_BACK.search(piece) else piece)
    return parts


def identifiers(question: str) -> list[str]:
    """The identifiers ``question`` quotes, as written (lowercased), longest first."""
    found = {(a or b).strip().lower() for a, b in _IDENTIFIER.findall(question)}
    # "GPT-3" or "Stable-Diffusion" are names any search finds; an identifier has 4+ characters.
    return sorted((f for f in found if len(f) >= 4), key=len, reverse=True)
