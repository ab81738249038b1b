"""``search_course``: the agent's tool for the course documents."""

from __future__ import annotations

from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, Field

from genlab.errors import GenlabError
from genlab.retrieval.text import clean_markdown

SNIPPET_CHARS = 600


class SearchCourseInput(BaseModel):
    """Arguments of ``search_course``."""

    query: str = Field(min_length=1, max_length=2000, pattern=r"\S", description="What to look up in the course notes, in plain words.")
    k: int = Field(default=4, ge=1, le=10, description="How many passages to return (1 to 10).")


class SearchCourseTool(BaseTool):
    """Searches the course documents and returns numbered, cited passages."""

    name: str = "search_course"
    description: str = (
        "Search the generative-AI course documents (GANs, diffusion models, VAEs, transformers and LLMs, "
        "Stable Diffusion, applications, ethics). Use it for any question about the course content; "
        "answer from the returned passages and cite them as [1], [2]."
    )
    args_schema: type[BaseModel] = SearchCourseInput
    handle_tool_error: bool = True
    handle_validation_error: bool = True
    store: str | None = None
    """``faiss`` or ``chroma``; defaults to the ``GENLAB_STORE`` setting."""

    def _run(self, query: str, k: int = 4, **_: object) -> str:
        from genlab.retrieval.search import get_searcher
        from genlab.settings import get_settings

        try:
            searcher, _ = get_searcher(self.store or get_settings().store)
            hits = searcher.search(query, k=k)
        except GenlabError as exc:
            raise ToolException(str(exc)) from exc
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
