"""Conversation memory: LangGraph checkpointers and named sessions.

A *session* is a name a learner picks (``genlab chat --session week3``); it points at one
LangGraph *thread* at a time, and ``/reset`` points it at a new one. Saved sessions live in
one SQLite file, ``$GENLAB_HOME/sessions.sqlite``: LangGraph's ``SqliteSaver`` tables hold
the messages of every thread, and a small ``genlab_sessions`` table holds which thread each
session name is on, so a session resumes after a restart and sessions never share a thread.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from genlab.errors import InvalidInputError

if TYPE_CHECKING:
    from langgraph.checkpoint.sqlite import SqliteSaver

    from genlab.settings import Settings

SESSIONS_FILE = "sessions.sqlite"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def sessions_path(settings: Settings | None = None) -> Path:
    """Return the SQLite file that saved sessions live in (``$GENLAB_HOME/sessions.sqlite``)."""
    from genlab.settings import get_settings

    return (settings or get_settings()).home / SESSIONS_FILE


def check_session_name(name: str) -> str:
    """Return ``name`` if it can name a session.

    Raises:
        InvalidInputError: It is empty, longer than 64 characters, or has characters other
            than letters, digits, ``_``, ``.`` and ``-`` (or starts with one of the last three).
    """
    if not _NAME.fullmatch(name):
        raise InvalidInputError(
            f"session name {name!r} is not allowed: use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"
        )
    return name


def open_checkpointer(path: Path | str | None = None) -> SqliteSaver:
    """Open (creating it if needed) a SQLite file of conversations as a LangGraph checkpointer.

    Args:
        path: The file; defaults to :func:`sessions_path`.
    """
    from langgraph.checkpoint.sqlite import SqliteSaver

    path = Path(path) if path is not None else sessions_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # The REPL reads state from its own thread while LangGraph writes checkpoints from a
    # worker thread; SqliteSaver serialises access with its own lock.
    saver = SqliteSaver(sqlite3.connect(str(path), check_same_thread=False))
    saver.setup()
    return saver


class SessionRegistry:
    """Which thread each session name is on, in the same SQLite database as the messages.

    Args:
        conn: A SQLite connection; ``sqlite3.connect(":memory:")`` keeps sessions for
            this process only.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()
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
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(sqlite3.connect(str(path), check_same_thread=False))

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def thread_for(self, name: str) -> str:
        """Return the thread ``name`` is on, starting one if the session is new."""
        check_session_name(name)
        with self._lock, self._conn:
            row = self._conn.execute("SELECT thread_id FROM genlab_sessions WHERE name = ?", (name,)).fetchone()
            if row is not None:
                return str(row[0])
            thread_id = _new_thread_id(name)
            self._conn.execute("INSERT INTO genlab_sessions VALUES (?, ?, ?)", (name, thread_id, time.time()))
            return thread_id

    def renew(self, name: str) -> tuple[str | None, str]:
        """Point session ``name`` at a new, empty thread.

        Returns:
            The thread it was on (``None`` if the session was new) and the new one.
        """
        check_session_name(name)
        thread_id = _new_thread_id(name)
        with self._lock, self._conn:
            row = self._conn.execute("SELECT thread_id FROM genlab_sessions WHERE name = ?", (name,)).fetchone()
            self._conn.execute(
                "INSERT OR REPLACE INTO genlab_sessions VALUES (?, ?, ?)", (name, thread_id, time.time())
            )
        return (str(row[0]) if row else None), thread_id

    def names(self) -> list[str]:
        """Return every session name, oldest first."""
        with self._lock:
            rows = self._conn.execute("SELECT name FROM genlab_sessions ORDER BY started").fetchall()
        return [str(r[0]) for r in rows]


def _new_thread_id(name: str) -> str:
    # The random part keeps a reset session's new thread apart from its old one and from
    # every other session's, whatever their names.
    return f"{name}:{uuid.uuid4().hex}"
