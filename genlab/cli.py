"""The ``genlab`` command: parses arguments, calls the public API, prints.

Exit codes: 0 success; 2 bad input or an unavailable model (one line on stderr, no
traceback); 1 an unexpected failure (a short message; ``--debug`` shows the traceback);
130 interrupted. Heavy libraries are imported inside the commands, so ``genlab --help`` is
fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from genlab.chains.story_example import COURSE_STORY_EXAMPLE
from genlab.errors import GenlabError, InvalidInputError

app = typer.Typer(
    name="genlab",
    help="Local generative models as LangChain tools: ask the course, summarize, classify, draw, compose, chat.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_STATE: dict[str, Any] = {"debug": False}


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of unexpected errors.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", is_eager=True)] = False,
) -> None:
    if version:
        from genlab import __version__

        print(__version__)
        raise typer.Exit(0)
    _STATE["debug"] = debug


# ---------------------------------------------------------------------------------------------
# Shared helpers for commands
# ---------------------------------------------------------------------------------------------


def stdout_console() -> Any:
    """A rich console on stdout (plain text when piped)."""
    from rich.console import Console

    return Console(soft_wrap=False)


def print_json(data: Any) -> None:
    """Print ``data`` as one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def show_progress(json_output: bool) -> bool:
    """Progress bars go to a terminal, never into ``--json`` output or a pipe."""
    return not json_output and sys.stderr.isatty()


def read_text_arg(value: str, *, what: str = "text") -> str:
    """Return ``value``, or the contents of stdin when it is ``-``.

    Raises:
        InvalidInputError: stdin is empty.
    """
    if value == "-":
        data = sys.stdin.read()
        if not data.strip():
            raise InvalidInputError(f"{what} from stdin is empty; pipe some text in or pass it as an argument")
        return data
    return value


OutOption = Annotated[Optional[Path], typer.Option("--out", help="Folder for generated files (default: GENLAB_OUTPUT_DIR).")]
ModelOption = Annotated[Optional[str], typer.Option("--model", help="Hub id or local folder overriding the configured model.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print a JSON document instead of text.")]

# ---------------------------------------------------------------------------------------------
# Retrieval commands: index, ask            (owned by genlab/retrieval)
# ---------------------------------------------------------------------------------------------



class _EmbeddingProgress:
    """A progress bar on stderr while the index embeds chunks (terminal only)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> "_EmbeddingProgress":
        if self.enabled:
            from rich.console import Console
            from rich.progress import Progress

            self._bar = Progress(console=Console(stderr=True), transient=True)
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
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


StoreOption = Annotated[Optional[str], typer.Option("--store", help="Vector store: faiss or chroma (default: GENLAB_STORE).")]


def _store(store: Optional[str]) -> str:
    from genlab.retrieval.index import check_store
    from genlab.settings import get_settings

    return check_store(store or get_settings().store)


@app.command("index")
def index_command(
    paths: Annotated[Optional[list[str]], typer.Argument(help="Folders or files of .md / .txt notes to add to the course documents.")] = None,
    store: StoreOption = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Embed everything again (repairs a damaged index).")] = False,
    json_output: JsonOption = False,
) -> None:
    """Index the course documents (and your own notes) for `genlab ask`; only changes are embedded."""
    from genlab.retrieval.index import CourseIndex

    index = CourseIndex(_store(store))
    with _EmbeddingProgress(show_progress(json_output)) as bar:
        report = index.sync(paths or [], rebuild=rebuild, progress=bar.callback)
    if json_output:
        print_json(report.model_dump())
        return
    state = "rebuilt" if rebuild else ("updated" if report.changed else "up to date")
    print(
        f"{report.store} index {state}: {report.files} files, {report.chunks} chunks, "
        f"{report.embedded} newly embedded, {report.removed} removed ({report.path})"
    )
    if report.repaired:
        sys.stderr.write("genlab: warning: the index on disk was damaged or from another genlab version; it was rebuilt\n")


def _print_answer(result: dict[str, Any]) -> None:
    console = stdout_console()
    if console.is_terminal:
        from rich.markdown import Markdown

        console.print(Markdown(result["answer"]))
        console.print()
        console.print("[bold]Sources[/bold]")
    else:
        print(result["answer"])
        print()
        print("Sources")
    for number, source in enumerate(result["sources"], start=1):
        where = " > ".join(p for p in (source["title"], source["section"]) if p)
        line = f"[{number}] {where} ({source['source']})"
        if console.is_terminal:
            from rich.markup import escape

            console.print(escape(line))
        else:
            print(line)


@app.command("ask")
def ask_command(
    question: Annotated[Optional[str], typer.Argument(help="A question about the course, in your own words.")] = None,
    k: Annotated[int, typer.Option("--k", help="Passages to retrieve and cite, 1 to 50.")] = 4,
    store: StoreOption = None,
    questions: Annotated[Optional[Path], typer.Option("--questions", help="A file with one question per line (JSON lines out with --json).")] = None,
    llm: Annotated[bool, typer.Option("--llm", help="Answer with the configured chat model instead of extracting sentences.")] = False,
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
    model = None
    if llm:
        from genlab.models import load_chat_model

        model = load_chat_model()
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
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise InvalidInputError(f"{path} is not UTF-8 text; give a text file with one question per line") from None
    from genlab.retrieval.search import check_question

    # Every line is checked before the first answer is printed.
    found = [check_question(line) for line in lines if line.strip()]
    if not found:
        raise InvalidInputError(f"{path} has no question; write one question per line")
    return found


# ---------------------------------------------------------------------------------------------
# Modality commands: image, music, summarize, classify            (owned by genlab/tools)
# ---------------------------------------------------------------------------------------------


class _ToolsProgress:
    """A progress bar on stderr fed by the tools' ``progress(done, total)`` callbacks."""

    def __init__(self, description: str, enabled: bool) -> None:
        self.description = description
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> "_ToolsProgress":
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    @property
    def callback(self) -> Any:
        """The ``progress`` argument for the tool, or None when no bar is shown."""
        return self._update if self._bar is not None else None

    def _update(self, done: int, total: int) -> None:
        if self._task is None:
            self._task = self._bar.add_task(self.description, total=total)
        self._bar.update(self._task, completed=done, total=total)


def _read_summary_input(file: Optional[str]) -> str:
    """The text to summarize: FILE, or stdin for ``-`` or no FILE (refusing an interactive stdin)."""
    from genlab.settings import get_settings

    limit = get_settings().max_input_chars
    if file is None or file == "-":
        if file is None and sys.stdin.isatty():
            raise InvalidInputError("give a FILE to summarize, or pipe text in (`genlab summarize - < notes.txt`)")
        return read_text_arg("-", what="text to summarize")
    path = Path(file).expanduser()
    try:
        with path.open(encoding="utf-8") as handle:
            return handle.read(limit + 1)  # one more than allowed, so the tool reports the size limit
    except FileNotFoundError:
        raise InvalidInputError(f"no such file: {file}") from None
    except IsADirectoryError:
        raise InvalidInputError(f"{file} is a folder; give a text file") from None
    except UnicodeDecodeError:
        raise InvalidInputError(f"{file} is not UTF-8 text") from None
    except PermissionError:
        raise InvalidInputError(f"{file} cannot be read: permission denied") from None


@app.command("image")
def image_command(
    prompt: Annotated[str, typer.Argument(help="What to draw.")],
    negative_prompt: Annotated[str, typer.Option("--negative-prompt", help="What to keep out of the image.")] = "",
    width: Annotated[int, typer.Option("--width", help="Width in pixels: a multiple of 8 from 64 to 2048.")] = 512,
    height: Annotated[int, typer.Option("--height", help="Height in pixels: a multiple of 8 from 64 to 2048.")] = 512,
    steps: Annotated[int, typer.Option("--steps", help="Denoising steps, 1 to 200.")] = 25,
    guidance: Annotated[float, typer.Option("--guidance", help="Guidance scale, 0 to 30.")] = 7.5,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed of the first image (default: random, printed).")] = None,
    num_images: Annotated[int, typer.Option("--num-images", help="How many images, 1 to 8.")] = 1,
    out: OutOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Draw images from a text prompt (Stable Diffusion); PNGs record prompt, seed and model."""
    from genlab.tools.image import generate_images

    with _ToolsProgress("drawing", show_progress(json_output)) as bar:
        result = generate_images(
            prompt,
            negative_prompt=negative_prompt,
            width=width,
            height=height,
            steps=steps,
            guidance_scale=guidance,
            seed=seed,
            num_images=num_images,
            model=model,
            out_dir=out,
            progress=bar.callback,
        )
    if json_output:
        print_json(result.model_dump(mode="json", exclude={"prompt"}))
        return
    for image in result.images:
        print(f"{image.path}  ({image.width}x{image.height}, seed {image.seed}, {image.steps} steps)")


@app.command("music")
def music_command(
    prompt: Annotated[str, typer.Argument(help="The music to make: genre, instruments, mood.")],
    duration: Annotated[float, typer.Option("--duration", help="Length in seconds, more than 0 and at most 60.")] = 8.0,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Sampling seed (default: random, printed).")] = None,
    out: OutOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Compose a music clip from a text prompt (MusicGen) and save it as a WAV file."""
    from genlab.tools.music import compose_music

    with _ToolsProgress("composing", show_progress(json_output)) as bar:
        result = compose_music(prompt, duration_s=duration, seed=seed, model=model, out_dir=out, progress=bar.callback)
    if json_output:
        print_json(result.model_dump(mode="json", exclude={"prompt", "seed"}))
        return
    print(f"{result.path}  ({result.duration_s:.2f} s at {result.sampling_rate} Hz, seed {result.seed})")


@app.command("summarize")
def summarize_command(
    file: Annotated[Optional[str], typer.Argument(help="A UTF-8 text file, or - for stdin (the default when piped).")] = None,
    max_words: Annotated[Optional[int], typer.Option("--max-words", help="Longest summary in words, 5 to 1000.")] = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Summarize a text file or stdin; long texts are summarized in parts, never cut off."""
    text = _read_summary_input(file)
    from genlab.tools.summarization import summarize_text

    summary = summarize_text(text, max_words=max_words, model=model)
    if json_output:
        print_json({"summary": summary})
    else:
        print(summary)


@app.command("classify")
def classify_command(
    text: Annotated[str, typer.Argument(help="The text to classify, or - to read it from stdin.")],
    labels: Annotated[str, typer.Option("--labels", help="Comma-separated candidate labels, e.g. positive,negative.")],
    multi_label: Annotated[bool, typer.Option("--multi-label", help="Score each label on its own (several may apply).")] = False,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Classify a text into the given labels with a zero-shot (NLI) model; best label first."""
    from genlab.tools.classification import classify_zero_shot_text

    text = read_text_arg(text)
    result = classify_zero_shot_text(text, labels.split(","), multi_label=multi_label, model=model)
    if json_output:
        print_json(result.model_dump())
        return
    width = max(len(label) for label in result.labels)
    for label, score in zip(result.labels, result.scores):
        print(f"{label:<{width}}  {score:.3f}")


# ---------------------------------------------------------------------------------------------
# Chain commands: story            (owned by genlab/chains)
# ---------------------------------------------------------------------------------------------


@app.command("story")
def story_command(
    setting: Annotated[str, typer.Option("--setting", help="Where the story happens.")] = COURSE_STORY_EXAMPLE["setting"],
    character: Annotated[str, typer.Option("--character", help="Who the story is about.")] = COURSE_STORY_EXAMPLE["character"],
    mysterious_object: Annotated[
        str, typer.Option("--mysterious-object", help="What the character discovers.")
    ] = COURSE_STORY_EXAMPLE["mysterious_object"],
    magical_properties: Annotated[
        str, typer.Option("--magical-properties", help="What the object can do.")
    ] = COURSE_STORY_EXAMPLE["magical_properties"],
    action: Annotated[str, typer.Option("--action", help="What the character decides to do.")] = COURSE_STORY_EXAMPLE["action"],
    outcome: Annotated[str, typer.Option("--outcome", help="How it ends.")] = COURSE_STORY_EXAMPLE["outcome"],
    max_rewrites: Annotated[
        int, typer.Option("--max-rewrites", help="Rewrites of a rejected story for children, 0 to 10.")
    ] = 1,
    classifier: Annotated[
        bool, typer.Option("--classifier", help="Also ask the zero-shot classifier (GENLAB_ZERO_SHOT_MODEL).")
    ] = False,
    illustrate: Annotated[bool, typer.Option("--illustrate", help="Draw a picture for an approved story.")] = False,
    soundtrack: Annotated[bool, typer.Option("--soundtrack", help="Compose music for an approved story.")] = False,
    width: Annotated[Optional[int], typer.Option("--width", help="Picture width in pixels: a multiple of 8 from 64 to 2048.")] = None,
    height: Annotated[Optional[int], typer.Option("--height", help="Picture height in pixels: a multiple of 8 from 64 to 2048.")] = None,
    steps: Annotated[Optional[int], typer.Option("--steps", help="Denoising steps of the picture, 1 to 200.")] = None,
    duration: Annotated[Optional[float], typer.Option("--duration", help="Length of the music in seconds, at most 60.")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed of the picture and the music.")] = None,
    out: OutOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Write a story from the course's template and check that it is kid-friendly.

    A second model is asked whether the story is kid-friendly; an unclear answer counts as
    no. A rejected story is rewritten for children up to --max-rewrites times.
    """
    from genlab.chains.base import DefaultLLM
    from genlab.chains.media import ImageOptions, MusicOptions, story_with_media
    from genlab.chains.story import MODERATOR_MAX_TOKENS

    chain = story_with_media(
        DefaultLLM(model=model) if model else None,
        DefaultLLM(model=model, max_new_tokens=MODERATOR_MAX_TOKENS) if model else None,
        classifier=classifier,
        max_rewrites=max_rewrites,
        image=ImageOptions(width=width, height=height, steps=steps, seed=seed) if illustrate else None,
        music=MusicOptions(duration_s=duration, seed=seed) if soundtrack else None,
        output_dir=out,
    )
    inputs = dict(
        setting=setting,
        character=character,
        mysterious_object=mysterious_object,
        magical_properties=magical_properties,
        action=action,
        outcome=outcome,
    )
    result = chain.invoke(inputs)
    if json_output:
        print_json(result)
        return
    print(result["story"])
    print()
    tries = len(result["attempts"])
    print(f"Verdict: {result['verdict']}" + (f" ({tries} attempts)" if tries > 1 else ""))
    for wanted, kind, key in ((illustrate, "Image", "image_path"), (soundtrack, "Music", "audio_path")):
        if not wanted:
            continue
        if result.get(key):
            print(f"{kind}: {result[key]}")
        else:
            print(f"{kind}: none, the story was not approved")

# ---------------------------------------------------------------------------------------------
# Agent commands: chat            (owned by genlab/agents)
# ---------------------------------------------------------------------------------------------


@app.command("chat")
def chat_command(
    session: Annotated[
        Optional[str],
        typer.Option("--session", help="Save the conversation under this name (in GENLAB_HOME) and resume it next time."),
    ] = None,
    model: ModelOption = None,
) -> None:
    """Talk to the course assistant: course questions, summaries, classification, stories, images, music.

    In the chat: /help, /tools, /reset, /session, /exit. Ctrl-C cancels an answer; Ctrl-D leaves.
    """
    from genlab.agents.repl import run_chat

    code = run_chat(session=session, model=model, debug=_STATE["debug"])
    if code:
        raise typer.Exit(code)


# ---------------------------------------------------------------------------------------------
# Foundation commands: models            (owned by genlab/models)
# ---------------------------------------------------------------------------------------------


@app.command("models")
def models_command(
    load: Annotated[
        Optional[list[str]],
        typer.Option("--load", help="Load the model of this role now (repeatable), e.g. to check it or fill the cache."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Show the model configured for each role and whether it is available offline."""
    from genlab.models.status import load_roles, role_statuses

    if load:
        loaded = load_roles(load)
        if json_output:
            print_json({"loaded": [m.model_dump() for m in loaded]})
        else:
            for m in loaded:
                print(f"{m.role}: loaded {m.source} ({m.kind}, {m.device}, {m.dtype}, {m.bytes / 1e6:.1f} MB) in {m.load_seconds:.1f} s")
        return
    rows = role_statuses()
    if json_output:
        print_json({"roles": [r.model_dump() for r in rows]})
        return
    from rich.table import Table

    table = Table("role", "model", "available", "where / why not")
    for r in rows:
        table.add_row(r.role, r.model, "yes" if r.available else "no", r.detail)
    stdout_console().print(table)


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def _fail(message: str, code: int) -> None:
    sys.stderr.write(f"genlab: error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def _settings_error(exc: Any) -> str:
    """One line for an invalid setting: which variable, what is allowed."""
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first.get("loc") else "?"
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"invalid setting GENLAB_{field.upper()} (or {field} in genlab.toml): {message}"


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; maps exceptions to the documented exit codes."""
    from pydantic import ValidationError
    from typer.exceptions import Exit, TyperException

    args = sys.argv[1:] if argv is None else argv
    try:
        result = app(args=args, prog_name="genlab", standalone_mode=False)
    except Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except TyperException as exc:  # usage errors: unknown command or option, bad value
        if type(exc).__name__ == "NoArgsIsHelpError":
            app(args=["--help"], prog_name="genlab", standalone_mode=False)
            raise SystemExit(0) from None
        message = " ".join(exc.format_message().split())
        _fail(f"{message} (see `genlab --help`)", getattr(exc, "exit_code", 2))
    except GenlabError as exc:
        _fail(" ".join(str(exc).split()), 2)
    except ValidationError as exc:  # settings from the environment or genlab.toml
        _fail(_settings_error(exc), 2)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line unless --debug
        if _STATE["debug"] or "--debug" in args:
            import traceback

            traceback.print_exc()
        _fail(f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)", 1)
    if isinstance(result, int) and result:
        raise SystemExit(result)


if __name__ == "__main__":
    main()
