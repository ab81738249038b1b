"""``search_course``: the agent's tool for the course documents.

It shares :class:`genlab.tools.base.GenlabTool` with the modality tools, so bad arguments and
errors reach the agent the same way: one line naming the field and what it accepts.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from genlab.retrieval.search import get_searcher
from genlab.retrieval.text import clean_markdown
from genlab.settings import get_settings
from genlab.tools.base import NOT_BLANK, GenlabTool

SNIPPET_CHARS = 600


class SearchCourseInput(BaseModel):
    """Arguments of ``search_course``."""

    query: str = Field(
        min_length=1, max_length=2000, pattern=NOT_BLANK, description="What to look up in the course notes, in plain words."
    )
    k: int = Field(default=4, ge=1, le=10, description="How many passages to return, 1 to 10.")


class SearchCourseTool(GenlabTool):
    """Searches the course documents and returns numbered, cited passages."""

    name: str = "search_course"
    description: str = (
        "Search the generative-AI course documents (GANs, diffusion models, VAEs, transformers and LLMs, "
        "Stable Diffusion, applications, ethics). Use it for any question about the course content; "
        "answer from the returned passages and cite them as [1], [2]."
    )
    args_schema: type[BaseModel] = SearchCourseInput
    store: str | None = None
    """``faiss`` or ``chroma``; defaults to the ``GENLAB_STORE`` setting."""

    def _execute(self, **kwargs: Any) -> str:
        return self._search(**kwargs)

    def _search(self, query: str, k: int = 4, **_: object) -> str:
        searcher, _ = get_searcher(self.store or get_settings().store)
        hits = searcher.search(query, k=k)
        if not hits:
            return "No passage of the course documents matches this query."
        parts = []
        for number, hit in enumerate(hits, start=1):
            c = hit.chunk
            text = " ".join(clean_markdown(c.text).split())
            if len(text) > SNIPPET_CHARS:
                text = text[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " ..."
            where = " > ".join(p for p in (c.title, c.section) if p)
            parts.append(f"[{number}] {where} ({c.source})\n{text}")
        return "\n\n".join(parts)


search_course = SearchCourseTool()
