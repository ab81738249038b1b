"""Conversation memory: LangGraph checkpointers and named sessions.

A *session* is a name a learner picks (``genlab chat --session week3``); it points at one
LangGraph *thread* at a time, and ``/reset`` points it at a new one. Saved sessions live in
one SQLite file, ``$GENLAB_HOME/sessions.sqlite``: LangGraph's ``SqliteSaver`` tables hold
the messages of every thread, and a small ``genlab_sessions`` table holds which thread each
session name is on, so a session resumes after a restart and sessions never share a thread.

Two processes may use one session at once (two ``genlab chat --session week3``): each turn
holds the session's lock file (``sessions.sqlite.locks/<name>.lock``) from reading the
conversation to saving its answer, so the turns of both are kept, one after the other, and
neither overwrites the other's. A damaged sessions file is refused with what to do (move it
aside), never replaced.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock, Timeout
from langgraph.checkpoint.sqlite import SqliteSaver
from pydantic import BaseModel

from genlab.errors import InvalidInputError, SessionStoreError, TurnCancelled, shown
from genlab.settings import get_settings

if TYPE_CHECKING:
    from langgraph.checkpoint.sqlite import SqliteSaver

    from genlab.settings import Settings

SESSIONS_FILE = "sessions.sqlite"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def sessions_path(settings: Settings | None = None) -> Path:
    """Return the SQLite file that saved sessions live in (``$GENLAB_HOME/sessions.sqlite``)."""
    return (settings or get_settings()).home / SESSIONS_FILE


def check_session_name(name: str) -> str:
    """Return ``name`` if it can name a session.

    Raises:
        InvalidInputError: It is empty, longer than 64 characters, or has characters other
            than letters, digits, ``_``, ``.`` and ``-`` (or starts with one of the last three).
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInputError(
            f"session name {shown(name)} is not allowed: use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return name


def connect(path: Path | str) -> sqlite3.Connection:
    """Open the sessions file, checking first that it is an intact SQLite database.

    Raises:
        SessionStoreError: The path is a folder, or the file is not SQLite or is damaged
            (truncated, overwritten). The file is left as it is: it holds the user's
            conversations, and the message says how to move it aside.
    """
    path = Path(path)
    if path.is_dir():
        raise _damaged(path, "it is a folder, not a SQLite file")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # 30 s: another genlab process may be saving a checkpoint.
        conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        problems = [str(row[0]) for row in conn.execute("PRAGMA quick_check").fetchall()]
    except sqlite3.DatabaseError as exc:  # OperationalError (cannot open) is a subclass
        raise _damaged(path, str(exc)) from None
    if problems != ["ok"]:
        conn.close()
        raise _damaged(path, problems[0] if problems else "the integrity check gave no answer")
    return conn


def _damaged(path: Path, why: str) -> SessionStoreError:
    aside = path.with_name(path.name + ".damaged")
    return SessionStoreError(
        f"the sessions file {path} cannot be used: {why}. Nothing was changed; move it aside "
        f"(mv '{path}' '{aside}') and genlab starts a new, empty one"
    )


def _database_error(path: Path, exc: sqlite3.DatabaseError) -> SessionStoreError:
    return _damaged(path, str(exc))


def open_checkpointer(path: Path | str | None = None) -> SqliteSaver:
    """Open (creating it if needed) a SQLite file of conversations as a LangGraph checkpointer.

    Args:
        path: The file; defaults to :func:`sessions_path`.
    """
    path = Path(path) if path is not None else sessions_path()
    # The REPL reads state from its own thread while LangGraph writes checkpoints from a
    # worker thread; SqliteSaver serialises access with its own lock.
    saver = SqliteSaver(connect(path))
    try:
        saver.setup()
    except sqlite3.DatabaseError as exc:
        raise _database_error(path, exc) from None
    return saver


class SessionRegistry:
    """Which thread each session name is on, in the same SQLite database as the messages.

    Args:
        conn: A SQLite connection; ``sqlite3.connect(":memory:")`` keeps sessions for
            this process only.
    """

    def __init__(self, conn: sqlite3.Connection, *, path: Path | None = None) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self.path = path
        """The SQLite file, or None in memory."""
        with self._lock, self._conn:
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS genlab_sessions "
                "(name TEXT PRIMARY KEY, thread_id TEXT NOT NULL UNIQUE, started REAL NOT NULL)"
            )

    @classmethod
    def in_memory(cls) -> SessionRegistry:
        """A registry that lives as long as the process."""
        return cls(sqlite3.connect(":memory:", check_same_thread=False))

    @classmethod
    def open(cls, path: Path | str | None = None) -> SessionRegistry:
        """Open the registry in a SQLite file (default :func:`sessions_path`), creating it if needed.

        It uses its own connection: SQLite's file locking keeps it and the checkpointer's
        connection to the same file consistent.
        """
        path = Path(path) if path is not None else sessions_path()
        conn = connect(path)
        try:
            return cls(conn, path=path)
        except sqlite3.DatabaseError as exc:
            raise _database_error(path, exc) from None

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def thread_for(self, name: str) -> str:
        """Return the thread ``name`` is on, starting one if the session is new."""
        check_session_name(name)
        with self._lock, self._conn:
            # OR IGNORE: another process may start the same new session at the same moment;
            # both then read the one row that won.
            self._conn.execute(
                "INSERT OR IGNORE INTO genlab_sessions VALUES (?, ?, ?)", (name, _new_thread_id(name), time.time())
            )
            row = self._conn.execute("SELECT thread_id FROM genlab_sessions WHERE name = ?", (name,)).fetchone()
            return str(row[0])

    def current_thread(self, name: str) -> str | None:
        """Return the thread ``name`` is on now (another process may have reset it), or None."""
        with self._lock:
            row = self._conn.execute("SELECT thread_id FROM genlab_sessions WHERE name = ?", (name,)).fetchone()
        return str(row[0]) if row else None

    def remove(self, name: str) -> str | None:
        """Forget session ``name``; returns the thread it was on (None if there was no such session)."""
        with self._lock, self._conn:
            row = self._conn.execute("SELECT thread_id FROM genlab_sessions WHERE name = ?", (name,)).fetchone()
            self._conn.execute("DELETE FROM genlab_sessions WHERE name = ?", (name,))
        return str(row[0]) if row else None

    def rows(self) -> list[tuple[str, str, float]]:
        """Return (name, thread, started) of every session, oldest first."""
        with self._lock:
            rows = self._conn.execute("SELECT name, thread_id, started FROM genlab_sessions ORDER BY started").fetchall()
        return [(str(n), str(t), float(s)) for n, t, s in rows]

    def renew(self, name: str) -> tuple[str | None, str]:
        """Point session ``name`` at a new, empty thread.

        Returns:
            The thread it was on (``None`` if the session was new) and the new one.
        """
        check_session_name(name)
        thread_id = _new_thread_id(name)
        with self._lock, self._conn:
            row = self._conn.execute("SELECT thread_id FROM genlab_sessions WHERE name = ?", (name,)).fetchone()
            self._conn.execute("INSERT OR REPLACE INTO genlab_sessions VALUES (?, ?, ?)", (name, thread_id, time.time()))
        return (str(row[0]) if row else None), thread_id

    def names(self) -> list[str]:
        """Return every session name, oldest first."""
        with self._lock:
            rows = self._conn.execute("SELECT name FROM genlab_sessions ORDER BY started").fetchall()
        return [str(r[0]) for r in rows]


@contextmanager
def session_lock(name: str, path: Path | None, *, cancel: Any = None, on_wait: Any = None) -> Iterator[None]:
    """Hold session ``name``'s lock for one turn (a no-op for sessions kept in memory).

    Args:
        name: The session.
        path: The sessions file; ``None`` for a registry in memory.
        cancel: A ``threading.Event``; waiting stops (raising :class:`TurnCancelled`
            from :mod:`genlab.agents.agent`) once it is set.
        on_wait: Called once if the lock is held by another process, before waiting.
    """
    if path is None:
        yield
        return

    folder = path.with_name(path.name + ".locks")
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / f"{check_session_name(name)}.lock"))
    waited = False
    while True:
        try:
            lock.acquire(timeout=0.2)
            break
        except Timeout:
            if cancel is not None and cancel.is_set():
                # lazy: agent.py imports the toolset (about 1.5 s); listing sessions needs none of it
                raise TurnCancelled("cancelled while waiting for the session") from None
            if not waited and on_wait is not None:
                on_wait()
            waited = True
    try:
        yield
    finally:
        lock.release()


class SessionInfo(BaseModel):
    """One saved session, as ``genlab chat --list`` shows it."""

    name: str
    """The session's name."""
    messages: int
    """Messages in its conversation (user, assistant and tool messages)."""
    started: datetime
    """When the session (or its last ``/reset``) began."""
    last_used: datetime
    """When its conversation was last saved."""


def list_sessions(path: Path | str | None = None) -> list[SessionInfo]:
    """Return the saved sessions, oldest first (none when there is no sessions file yet).

    Raises:
        SessionStoreError: The sessions file is damaged.
    """
    path = Path(path) if path is not None else sessions_path()
    if not path.exists():
        return []  # listing creates nothing
    registry = SessionRegistry.open(path)
    saver = open_checkpointer(path)
    try:
        found = []
        for name, thread_id, started in registry.rows():
            saved = saver.get_tuple({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}})
            start = datetime.fromtimestamp(started, tz=timezone.utc)
            messages = list((saved.checkpoint.get("channel_values") or {}).get("messages") or []) if saved else []
            last = datetime.fromisoformat(saved.checkpoint["ts"]) if saved else start
            found.append(SessionInfo(name=name, messages=len(messages), started=start, last_used=last))
        return found
    except sqlite3.DatabaseError as exc:
        raise _database_error(path, exc) from None
    finally:
        registry.close()
        saver.conn.close()


def delete_session(name: str, path: Path | str | None = None) -> None:
    """Delete saved session ``name`` and its conversation.

    It waits for a turn another process is running in the session to finish first.

    Raises:
        InvalidInputError: There is no session of that name (the message lists those there are).
        SessionStoreError: The sessions file is damaged.
    """
    check_session_name(name)
    path = Path(path) if path is not None else sessions_path()
    names = [info.name for info in list_sessions(path)]
    if name not in names:
        there = ", ".join(names) if names else "none yet"
        raise InvalidInputError(f"there is no saved session {shown(name)}; saved sessions: {there}")
    registry = SessionRegistry.open(path)
    saver = open_checkpointer(path)
    try:
        with session_lock(name, path):
            thread_id = registry.remove(name)
            if thread_id is not None:
                saver.delete_thread(thread_id)
    except sqlite3.DatabaseError as exc:
        raise _database_error(path, exc) from None
    finally:
        registry.close()
        saver.conn.close()


def _new_thread_id(name: str) -> str:
    # The random part keeps a reset session's new thread apart from its old one and from
    # every other session's, whatever their names.
    return f"{name}:{uuid.uuid4().hex}"
