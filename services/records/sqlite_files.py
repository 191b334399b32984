"""The SQLite files quantdesk owns: made private, and checked read-only before anything
may write them.

A connection that can write may change a file the moment it opens it: SQLite applies a
``-wal`` beside the file, and the last writer to close checkpoints it into the file. A
write-ahead log that belongs to another file (a journal copied back by hand over a
crashed one, its log left beside it) is applied all the same -- its frames carry no
mark of the file they belong to -- and ``quick_check`` then finds a well-formed database
holding the *other* file's rows; a writer would make that permanent.

So every owned file is first opened read-only (``mode=ro``: never checkpointed, never
discarded): it must have its tables and pass ``quick_check``; and where the file has an
append-only table, the view through the log must *extend* the view of the file alone
(``immutable=1`` ignores the log): every row the file holds is still there, unchanged.
A genuine log only ever adds rows; a foreign one replaces them.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path


class Untrusted(RuntimeError):
    """The file cannot be trusted as it is; the message says why, ``advice`` (if any)
    what to do instead of the owner's usual advice for a damaged file."""

    def __init__(self, why: str, advice: str = "") -> None:
        super().__init__(why)
        self.advice = advice


def check_file(path: Path, tables: set[str], append_only: tuple[str, str] | None = None) -> None:
    """Raise :class:`Untrusted` unless ``path`` (which exists) is a readable SQLite file
    with ``tables`` whose write-ahead log, if any, belongs to it. ``append_only`` is
    (table, integer key) of a table whose rows are never changed or removed."""
    if path.stat().st_size == 0:
        raise Untrusted("the file is empty (0 bytes)")
    try:
        db = connect_readonly(path)
    except sqlite3.DatabaseError as exc:
        raise Untrusted(str(exc)) from None
    try:
        found = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        missing = sorted(tables - found)
        if missing:
            raise Untrusted(
                f"it is not the file quantdesk keeps there: no {', '.join(missing)} table"
            )
        problems = [str(r[0]) for r in db.execute("PRAGMA quick_check(3)")]
        if problems != ["ok"]:
            raise Untrusted("; ".join(problems))
        wal = path.with_name(path.name + "-wal")
        if append_only is not None and wal.is_file() and wal.stat().st_size > 0:
            _log_extends_file(path, db, *append_only)
    except sqlite3.DatabaseError as exc:
        raise Untrusted(str(exc)) from None
    finally:
        db.close()


def _log_extends_file(path: Path, db: sqlite3.Connection, table: str, key: str) -> None:
    """The rows of the file alone are all in the view through the log, unchanged."""
    alone = _immutable(path)
    if alone is None:
        return  # the file alone is unreadable (cut mid-checkpoint): quick_check decided
    try:
        with contextlib.closing(alone):
            last = alone.execute(f"SELECT COALESCE(MAX({key}), 0) FROM {table}").fetchone()[0]
            digest = _digest(alone, table, key, last)
    except sqlite3.DatabaseError:
        return
    if _digest(db, table, key, last) != digest:
        raise Untrusted(
            f"its write-ahead log {path.name}-wal belongs to another file: read through it, "
            f"the {table} the file holds (up to {key} {last}) are changed or gone",
            f"Nothing was written: move {path.name}-wal and {path.name}-shm aside to open "
            "the file as it holds itself, or restore it from a backup",
        )


def _digest(db: sqlite3.Connection, table: str, key: str, last: int) -> tuple[object, ...]:
    """A summary of the rows up to ``last`` that differs when any of them differs."""
    columns = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
    width = " + ".join(f"COALESCE(LENGTH({c}), -1)" for c in columns)
    row = db.execute(
        f"SELECT COUNT(*), TOTAL({key}), TOTAL({width}), TOTAL(({width}) * {key}) "
        f"FROM {table} WHERE {key} <= ?",
        (last,),
    ).fetchone()
    tail = db.execute(f"SELECT * FROM {table} WHERE {key} = ?", (last,)).fetchone()
    return (*row, tail)


def _immutable(path: Path) -> sqlite3.Connection | None:
    """The file alone, its log ignored."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True)
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.DatabaseError:
        return None


def connect_readonly(path: Path, *, threads: bool = False) -> sqlite3.Connection:
    """Read without writing: ``mode=ro``; in a read-only directory, where SQLite cannot
    make the WAL index, ``immutable=1`` (nothing may be writing there anyway)."""
    uri = path.resolve().as_uri()
    try:
        db = sqlite3.connect(f"{uri}?mode=ro", uri=True, check_same_thread=not threads)
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.OperationalError:
        return sqlite3.connect(f"{uri}?immutable=1", uri=True, check_same_thread=not threads)


def create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist, whatever the umask (a
    notebook's is 022): SQLite gives the -wal and -shm files the database file's mode."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
