"""The Ask tab: course question answering (:func:`genlab.retrieval.answer_question`), as ``genlab ask``.

The answer keeps its ``[n]`` citations; the numbered sources below it show title > section,
file and score, and the passage itself on expand.
"""

from __future__ import annotations

import html
from typing import Any

import gradio as gr

from genlab.models import load_chat_model
from genlab.retrieval import answer_question
from genlab.ui.errors import shows_errors

STORES = ("faiss", "chroma")


def sources_html(sources: list[dict[str, Any]]) -> str:
    """The numbered sources: one expandable entry each, the passage inside (escaped: it is data)."""
    if not sources:
        return "<p>No passage of the course documents was retrieved.</p>"
    entries = []
    for number, source in enumerate(sources, start=1):
        where = " > ".join(p for p in (source.get("title"), source.get("section")) if p)
        file = html.escape(str(source.get("source", "")))
        summary = f"[{number}] {html.escape(where)} <code>{file}</code> score {source.get('score', 0):.3f}"
        passage = html.escape(source.get("text", ""))
        entries.append(f'<details class="genlab-source"><summary>{summary}</summary>\n<pre>{passage}</pre></details>')
    return "\n".join(entries)


@shows_errors
def ask(
    question: str,
    k: float,
    store: str,
    use_chat_model: bool,
    progress: Any = gr.Progress(),  # noqa: B008 - Gradio finds its progress tracker by this default
) -> tuple[str, str]:
    """Answer ``question`` from the course documents (``/ask``); returns (answer, sources as HTML)."""
    llm = None
    if use_chat_model:
        llm = load_chat_model()

    def indexing(done: int, total: int) -> None:
        progress((done, total), desc="indexing the course documents", unit="chunks")

    result = answer_question(question or "", k=int(k), store=store, llm=llm, progress=indexing)
    return result["answer"], sources_html(result["sources"])


def build(default_store: str = "faiss") -> dict[str, Any]:
    """Lay out the Ask tab inside the current ``gr.Blocks``."""
    with gr.Row():
        question = gr.Textbox(label="Question", placeholder="How do GANs differ from diffusion models?", scale=5)
        button = gr.Button("Ask", variant="primary", scale=1, min_width=80)
    with gr.Row():
        k = gr.Slider(1, 20, value=4, step=1, label="k", info="Passages to retrieve and cite.")
        store = gr.Radio(list(STORES), value=default_store, label="Store")
        use_chat_model = gr.Checkbox(
            label="Answer with the chat model", info="Off: sentences extracted from the passages, no generative model."
        )
    answer = gr.Markdown(label="Answer", elem_id="ask-answer", container=True)
    gr.Markdown("**Sources**")
    sources = gr.HTML(elem_id="ask-sources")
    gr.on(
        triggers=[button.click, question.submit],
        fn=ask,
        inputs=[question, k, store, use_chat_model],
        outputs=[answer, sources],
        api_name="ask",
    )
    return {"question": question, "answer": answer, "sources": sources}
