"""Retrieval commands: ``index`` and ``ask``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from genlab.cli.app import app
from genlab.cli.common import (
    JsonOption,
    MaxNewTokensOption,
    TemperatureOption,
    TextSeedOption,
    generation_settings,
    print_json,
    show_progress,
    stdout_console,
)
from genlab.errors import InvalidInputError
from genlab.terminal import safe_text


class _EmbeddingProgress:
    """A progress bar on stderr while the index embeds chunks (terminal only)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _EmbeddingProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import Progress

            self._bar = Progress(console=Console(stderr=True), transient=True)
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            return
        if self._task is None:
            self._task = self._bar.add_task("indexing the course documents", total=total)
        self._bar.update(self._task, completed=done)

    @property
    def callback(self) -> Any:
        return self if self._bar is not None else None


StoreOption = Annotated[str | None, typer.Option("--store", help="Vector store: faiss or chroma (default: GENLAB_STORE).")]


def _store(store: str | None) -> str:
    from genlab.retrieval.index import check_store
    from genlab.settings import get_settings

    return check_store(store or get_settings().store)


@app.command("index")
def index_command(
    paths: Annotated[
        list[str] | None, typer.Argument(help="Folders or files of .md / .txt / .pdf notes to add to the course documents.")
    ] = None,
    store: StoreOption = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Embed everything again (repairs a damaged index).")] = False,
    forget: Annotated[
        list[str] | None, typer.Option("--forget", help="Remove an added folder or file from the index (repeatable).")
    ] = None,
    list_: Annotated[bool, typer.Option("--list", help="Show the added folders and the indexed files; change nothing.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Index the course documents (and your own notes) for `genlab ask`; only changes are embedded.

    Files over 5 MB (PDFs over 50 MB) are skipped; PDFs are read page by page.
    """
    from genlab.retrieval.index import CourseIndex

    index = CourseIndex(_store(store))
    if list_:
        if paths or forget or rebuild:
            raise InvalidInputError("--list only shows the index; give it without paths, --forget or --rebuild")
        _print_listing(index, json_output)
        return
    with _EmbeddingProgress(show_progress(json_output)) as bar:
        report = index.sync(paths or [], rebuild=rebuild, forget=forget or [], progress=bar.callback)
    if json_output:
        print_json(report.model_dump())
        return
    state = "rebuilt" if rebuild else ("updated" if report.changed else "up to date")
    for path, count in report.added.items():
        print(f"added {path}: {count} file{'s' if count != 1 else ''} indexed")
    for path in report.forgotten:
        print(f"forgot {path}")
    print(
        f"{report.store} index {state}: {report.files} files, {report.chunks} chunks, "
        f"{report.embedded} newly embedded, {report.removed} removed ({report.path})"
    )


def _print_listing(index: Any, json_output: bool) -> None:
    try:
        listing = index.listing()
    except FileNotFoundError:
        raise InvalidInputError(f"there is no {index.store} index yet; build it with `genlab index`") from None
    if json_output:
        print_json(listing)
        return
    print(f"{listing['store']} index ({listing['path']})")
    print("added folders and files:" if listing["folders"] else "added folders and files: none (`genlab index PATH` adds one)")
    for folder in listing["folders"]:
        print(f"  {folder}")
    print(f"indexed files ({len(listing['files'])}):")
    for name, chunks in listing["files"].items():
        print(f"  {name} ({chunks} chunks)")


def announce_first_index(store: str) -> None:
    """Say on stderr, once, that the index is built now (a pipe otherwise shows nothing for a minute)."""
    from genlab.retrieval.index import CourseIndex

    if not CourseIndex(store).exists():
        sys.stderr.write(
            "genlab: indexing the course documents, once: about a minute on a laptop; later questions reuse the index\n"
        )
        sys.stderr.flush()


def source_line(source: dict[str, Any]) -> str:
    """Where a source is: "Title > Section (file.md)", "(file.pdf p. 3)" for a PDF page."""
    where = " > ".join(p for p in (source["title"], source["section"]) if p)
    page = source.get("page")
    return f"{where} ({source['source']}{f' p. {page}' if page is not None else ''})"


def _print_answer(result: dict[str, Any]) -> None:
    console = stdout_console()
    if console.is_terminal:
        from rich.markdown import Markdown

        console.print(Markdown(safe_text(result["answer"])))
        console.print()
        console.print("[bold]Sources[/bold]")
    else:
        print(result["answer"])
        print()
        print("Sources")
    cited = set(result.get("cited") or [])
    for number, source in enumerate(result["sources"], start=1):
        line = f"[{number}] {source_line(source)}"
        if cited and number not in cited:
            line += " (also relevant)"  # retrieved with the others, not quoted in the answer
        if console.is_terminal:
            from rich.markup import escape

            console.print(escape(safe_text(line)))
        else:
            print(line)


@app.command("ask")
def ask_command(
    question: Annotated[str | None, typer.Argument(help="A question about the course, in your own words.")] = None,
    k: Annotated[int, typer.Option("--k", help="Passages to retrieve and cite, 1 to 50.")] = 4,
    store: StoreOption = None,
    questions: Annotated[
        Path | None, typer.Option("--questions", help="A file with one question per line (JSON lines out with --json).")
    ] = None,
    llm: Annotated[
        bool, typer.Option("--llm", help="Answer with the configured chat model instead of extracting sentences.")
    ] = False,
    max_new_tokens: MaxNewTokensOption = None,
    temperature: TemperatureOption = None,
    seed: TextSeedOption = None,
    json_output: JsonOption = False,
) -> None:
    """Answer a question from the course documents, with numbered sources (offline by default)."""
    from genlab.retrieval.qa import answer_question
    from genlab.retrieval.search import check_k, check_question

    store_name = _store(store)
    check_k(k)
    if questions is not None:
        if question is not None:
            raise InvalidInputError("give a QUESTION or --questions FILE, not both")
        batch = _read_questions(questions)
    else:
        batch = [check_question(question or "")]
    generation = generation_settings(max_new_tokens, temperature, seed)
    if generation and not llm:
        flags = ", ".join("--" + name.replace("_", "-") for name in generation)
        verb = "applies" if len(generation) == 1 else "apply"
        raise InvalidInputError(f"{flags} {verb} only to answers written by a model: add --llm (the default answer is extracted)")
    model = None
    if llm:
        from genlab.models import load_chat_model

        model = load_chat_model(**generation)
    announce_first_index(store_name)
    with _EmbeddingProgress(show_progress(json_output)) as bar:
        for position, item in enumerate(batch):
            result = answer_question(item, k=k, store=store_name, llm=model, progress=bar.callback)
            if json_output:
                print_json(result)
                continue
            if position:
                print()
            if len(batch) > 1:
                print(f"Q: {item}")
            _print_answer(result)


def _read_questions(path: Path) -> list[str]:
    if not path.exists():
        raise InvalidInputError(f"no such file: {path}")
    if path.is_dir():
        raise InvalidInputError(f"{path} is a folder; give a text file with one question per line")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()  # -sig: a BOM is not part of the first question
    except UnicodeDecodeError:
        raise InvalidInputError(f"{path} is not UTF-8 text; give a text file with one question per line") from None
    from genlab.retrieval.search import check_question

    # Every line is checked before the first answer is printed.
    found = [check_question(line) for line in lines if line.strip()]
    if not found:
        raise InvalidInputError(f"{path} has no question; write one question per line")
    return found
