"""``genlab chat``: a terminal REPL around a :class:`~genlab.agents.session.ChatSession`.

In a terminal: line editing and history (prompt_toolkit), the answer streamed as Markdown,
each tool call traced as it happens. With stdin or stdout not a terminal: plain lines in,
plain text out (no ANSI codes), still streamed, so ``echo "..." | genlab chat`` works.
Ctrl-C cancels the current turn (or clears the line at the prompt); Ctrl-D or ``/exit`` leaves.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any

from rich.console import Console
from rich.live import Live
from rich.markdown import Markdown
from rich.table import Table

from genlab.agents.formatting import format_args, shorten
from genlab.agents.memory import list_sessions, sessions_path
from genlab.agents.session import ChatSession, Notice, TextDelta, ToolCallEvent, ToolResultEvent, TurnEnd, open_chat
from genlab.errors import GenlabError
from genlab.settings import get_settings
from genlab.terminal import raw_stdout, safe_text

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live

HELP = """\
Commands:
  /help      this help
  /tools     the tools the assistant can use
  /reset     forget this conversation and start a new one
  /session   the session's name and how many messages it holds
  /sessions  the saved sessions: messages and last use
  /exit      leave (Ctrl-D works too)
Ctrl-C cancels the answer being generated. Anything else is a message to the assistant."""

PROMPT = "you> "


class Renderer:
    """Where a turn's events go: plain text on a stream (pipes, files).

    Everything shown passes through :func:`genlab.terminal.safe_text`: answers, tool
    results and tool arguments come from models and documents, and may carry terminal
    control sequences.
    """

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self._mid_line = False

    def write(self, text: str) -> None:
        """Write a line of REPL output (help, tool list, notices)."""
        self._end_line()
        self.out.write(safe_text(text) + "\n")
        self.out.flush()

    def notice(self, text: str) -> None:
        """Write a short status line (cancelled, reset...)."""
        self.write(text)

    def text(self, delta: str) -> None:
        delta = safe_text(delta)
        self.out.write(delta)
        self.out.flush()
        self._mid_line = not delta.endswith("\n")

    def tool_call(self, event: ToolCallEvent) -> None:
        self.write(f"[tool] {event.name}({format_args(event.args)})")

    def tool_result(self, event: ToolResultEvent) -> None:
        status = "error" if event.error else "ok"
        self.write(f"[tool] {event.name} -> {status}: {shorten(event.content, 200)}")

    def tools(self, tools: list[tuple[str, str]]) -> None:
        """List tools, one per line."""
        width = max((len(name) for name, _ in tools), default=0)
        self.write("\n".join(f"  {name.ljust(width)}  {desc}" for name, desc in tools) or "  (no tools)")

    def end_turn(self, event: TurnEnd | None) -> None:
        self._end_line()

    def _end_line(self) -> None:
        if self._mid_line:
            self.out.write("\n")
            self.out.flush()
            self._mid_line = False


class TerminalRenderer(Renderer):
    """Rich output for a terminal: Markdown answers updated live, dim tool traces."""

    def __init__(self, console: Console) -> None:
        super().__init__(console.file)
        self.console = console
        self._live: Live | None = None
        self._buffer = ""

    def write(self, text: str) -> None:
        self._stop_live()
        self.console.print(safe_text(text), markup=False, highlight=False)

    def notice(self, text: str) -> None:
        self._stop_live()
        self.console.print(safe_text(text), style="yellow", markup=False, highlight=False)

    def text(self, delta: str) -> None:
        self._buffer += safe_text(delta)
        if self._live is None:
            self._live = Live(console=self.console, refresh_per_second=12, vertical_overflow="visible")
            self._live.start()
        self._live.update(Markdown(self._buffer))

    def tool_call(self, event: ToolCallEvent) -> None:
        self._stop_live()
        self._trace(f"→ {event.name}({format_args(event.args, 400)})", "cyan")

    def tool_result(self, event: ToolResultEvent) -> None:
        self._stop_live()
        self._trace(f"← {event.name}: {shorten(event.content, 400)}", "red" if event.error else "dim")

    def tools(self, tools: list[tuple[str, str]]) -> None:
        self._stop_live()
        table = Table.grid(padding=(0, 2))
        table.add_column(no_wrap=True, style="bold")
        table.add_column()
        for name, description in tools:
            table.add_row(safe_text(name), safe_text(description))
        self.console.print(table)

    def _trace(self, text: str, style: str) -> None:
        # One line per trace, cut at the terminal's width: the answer is what should stand out.
        self.console.print(safe_text(text), style=style, markup=False, highlight=False, no_wrap=True, overflow="ellipsis")

    def end_turn(self, event: TurnEnd | None) -> None:
        self._stop_live()

    def _stop_live(self) -> None:
        if self._live is not None:
            self._live.update(Markdown(self._buffer), refresh=True)
            self._live.stop()
            self._live = None
            if not self.console.is_terminal:
                self.console.line()  # a terminal's Live ends its last line itself; a recording does not
        self._buffer = ""


class Repl:
    """The read-eval-print loop: slash commands, turns, Ctrl-C and Ctrl-D.

    Args:
        session: The conversation to drive.
        read_line: Returns the next input line; raises ``EOFError`` at the end of input and
            ``KeyboardInterrupt`` when the user presses Ctrl-C at the prompt.
        renderer: Where output goes.
        errors: Where error lines go.
        debug: Print tracebacks of unexpected errors.
    """

    def __init__(
        self,
        session: ChatSession,
        read_line: Callable[[], str],
        renderer: Renderer,
        *,
        errors: IO[str] | None = None,
        debug: bool = False,
    ) -> None:
        self.session = session
        self.read_line = read_line
        self.renderer = renderer
        self.errors = errors or sys.stderr
        self.debug = debug
        self.commands: dict[str, Callable[[], bool]] = {
            "/help": self._help,
            "/tools": self._tools,
            "/reset": self._reset,
            "/session": self._session,
            "/sessions": self._sessions,
            "/exit": self._exit,
            "/quit": self._exit,
        }

    def run(self) -> int:
        """Run until ``/exit`` or the end of input; returns the exit code (0)."""
        while True:
            try:
                line = self.read_line()
            except KeyboardInterrupt:
                continue  # Ctrl-C at the prompt clears the line, as in a shell
            except EOFError:
                self.renderer.end_turn(None)
                return 0
            line = line.strip()
            if not line:
                continue
            if line.startswith("/"):
                command = self.commands.get(line.split()[0].lower())
                if command is None:
                    self.renderer.notice(f"unknown command {line.split()[0]}; /help lists the commands")
                    continue
                if not command():
                    return 0
                continue
            self.turn(line)

    def turn(self, text: str) -> None:
        """Run one turn, rendering its events; Ctrl-C and errors end the turn, not the REPL."""
        events: Iterator[Any] = iter(())
        try:
            if self.session.busy:
                self.renderer.notice("(waiting for the cancelled turn to finish its current step...)")
            events = self.session.stream(text)
            for event in events:
                if isinstance(event, TextDelta):
                    self.renderer.text(event.text)
                elif isinstance(event, ToolCallEvent):
                    self.renderer.tool_call(event)
                elif isinstance(event, ToolResultEvent):
                    self.renderer.tool_result(event)
                elif isinstance(event, Notice):
                    self.renderer.notice(event.text)
                elif isinstance(event, TurnEnd):
                    self.renderer.end_turn(event)
        except KeyboardInterrupt:
            self.renderer.end_turn(None)
            self.renderer.notice("(cancelled)")
        except BrokenPipeError:
            # The reader of stdout is gone: the CLI ends quietly, once the cancelled turn has
            # stopped (a turn still running at exit makes LangGraph print a traceback).
            close_events = getattr(events, "close", None)
            if close_events is not None:
                close_events()
            self.session.wait(30)
            raise
        except GenlabError as exc:
            self.renderer.end_turn(None)
            self._error(" ".join(str(exc).split()))
        except Exception as exc:  # one bad turn must not end the session
            self.renderer.end_turn(None)
            if self.debug:
                traceback.print_exc(file=self.errors)
            self._error(f"unexpected {type(exc).__name__}: {exc} (the session goes on; --debug shows the traceback)")
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()

    def _error(self, message: str) -> None:
        self.errors.write(f"error: {safe_text(message)}\n")
        self.errors.flush()

    def _help(self) -> bool:
        self.renderer.write(HELP)
        return True

    def _tools(self) -> bool:
        self.renderer.tools(self.session.tool_descriptions())
        return True

    def _reset(self) -> bool:
        self.session.reset()
        self.renderer.notice("Started a new conversation; the previous one is forgotten.")
        return True

    def _session(self) -> bool:
        where = "saved" if self.session.saved else "not saved; use --session NAME to keep it"
        self.renderer.write(f"session {self.session.name}: {self.session.message_count()} messages ({where})")
        return True

    def _sessions(self) -> bool:
        self.renderer.write(format_sessions(self.session.registry.path))
        return True

    def _exit(self) -> bool:
        return False


def format_sessions(path: Any = None) -> str:
    """The saved sessions as lines of name, message count and last use (``/sessions``, ``--list``)."""
    if path is None:
        path = sessions_path()
    sessions = list_sessions(path)
    if not sessions:
        return f"no saved sessions yet (in {path}); start one with genlab chat --session NAME"
    width = max(len(info.name) for info in sessions)
    lines = [f"{'session'.ljust(width)}  messages  last used"]
    for info in sessions:
        when = info.last_used.astimezone().strftime("%Y-%m-%d %H:%M")
        lines.append(f"{info.name.ljust(width)}  {info.messages:>8}  {when}")
    return "\n".join(lines)


def _terminal_reader() -> Callable[[], str]:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory

    home = get_settings().home
    home.mkdir(parents=True, exist_ok=True)
    from prompt_toolkit.output import create_output

    # prompt_toolkit draws the input line with its own escape codes: it writes to the real
    # stdout, not the CLI's terminal-safe wrapper (which would strip them).
    prompt: PromptSession[str] = PromptSession(
        history=FileHistory(str(home / "chat_history")), output=create_output(stdout=raw_stdout())
    )
    return lambda: prompt.prompt(PROMPT)


def _stream_reader(stream: IO[str], prompt_to: IO[str] | None) -> Callable[[], str]:
    def read() -> str:
        if prompt_to is not None:
            prompt_to.write(PROMPT)
            prompt_to.flush()
        line = stream.readline()
        if not line:
            raise EOFError
        return line

    return read


def run_chat(
    session: str | None = None,
    model: str | None = None,
    *,
    debug: bool = False,
    generation: dict[str, Any] | None = None,
) -> int:
    """Run ``genlab chat``: open the session, then the REPL until ``/exit`` or Ctrl-D.

    Args:
        session: Save the conversation under this name and resume it later.
        model: A hub id or folder overriding the configured chat model.
        debug: Print tracebacks of unexpected errors.
        generation: Generation settings for the chat model (``max_new_tokens``, ``temperature``, ``seed``).

    Returns:
        The exit code.

    Raises:
        ModelUnavailableError: No chat model can be loaded (the CLI prints one line, exit 2).
    """
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    started = time.perf_counter()
    chat = open_chat(session, model=model, generation=generation)
    renderer: Renderer
    if sys.stdout.isatty():
        renderer = TerminalRenderer(Console(highlight=False, file=raw_stdout()))
        saved = "saved" if chat.saved else "not saved"
        renderer.console.print(
            f"genlab chat - session {chat.name} ({saved}, {chat.message_count()} messages), "
            f"ready in {time.perf_counter() - started:.1f} s. /help for commands, Ctrl-D to leave.",
            style="dim",
            markup=False,
            highlight=False,
        )
    else:
        renderer = Renderer(sys.stdout)
    if interactive:
        read_line = _terminal_reader()
    else:
        read_line = _stream_reader(sys.stdin, sys.stderr if sys.stdin.isatty() else None)
    return Repl(chat, read_line, renderer, debug=debug).run()
