"""The alert outbox: ``<data dir>/alerts.sqlite3`` (SQLite, WAL).

Every alert is written here before any channel is tried, with one delivery row per
channel it is routed to; a delivery moves from ``pending`` to ``sent`` or, after every
retry, ``failed`` -- so an alert that could not go out is still on disk, shown by
``quantdesk alerts list``, and a restart takes up what was still pending. Only the
alert threads write here, never the bus's dispatcher.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from services.alerts.model import Alert
from services.records.sqlite_files import Untrusted, check_file, create_private

log = logging.getLogger("quantdesk.alerts")

FILE = "alerts.sqlite3"
SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    key TEXT NOT NULL,
    account TEXT NOT NULL,
    collapsed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS deliveries (
    alert_id INTEGER NOT NULL REFERENCES alerts(id),
    channel TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    done_at TEXT,
    digest INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (alert_id, channel)
);
CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries(channel, state);
"""


@dataclass(frozen=True)
class Stored:
    """An alert as the outbox holds it, with one channel's delivery."""

    id: int
    alert: Alert
    channel: str
    state: str  # pending | sent | failed
    attempts: int
    error: str
    done_at: str | None
    digest: bool  # sent inside a digest of several


CHUNK = 200  # rows per multi-row statement (SQLite allows 32,766 variables)


def _insert_many(db: sqlite3.Connection, into: str, rows: list[tuple[Any, ...]]) -> None:
    for lo in range(0, len(rows), CHUNK):
        chunk = rows[lo : lo + CHUNK]
        marks = ",".join(["(" + ",".join("?" * len(chunk[0])) + ")"] * len(chunk))
        db.execute(f"INSERT INTO {into} VALUES {marks}", [v for row in chunk for v in row])


class Outbox:
    """Alerts and their deliveries on disk; thread-safe (one connection, one lock).

    A write that fails (a full disk) is logged once and the alert goes on in memory:
    delivery is never stopped by the outbox, only its survival across a restart.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        problem = check_outbox(path)
        if problem:
            raise OutboxError(problem)
        create_private(path)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=2000")
        self._db.executescript(SCHEMA)
        self.error = ""  # the last write failure ("" while writes succeed)
        self._next_id = -1  # ids of alerts that could not be written (negative: in memory)
        self._top = int(self._db.execute("SELECT coalesce(max(id), 0) FROM alerts").fetchone()[0])

    def _write(self, sql: str, rows: Iterable[tuple[Any, ...]]) -> bool:
        with self._lock:
            try:
                self._db.execute("BEGIN")
                self._db.executemany(sql, rows)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._failed(exc)
                return False
        self._written()
        return True

    def _failed(self, exc: sqlite3.Error) -> None:
        """Roll back, say so once, remember why (the system monitor shows it)."""
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("ROLLBACK")
        if not self.error:
            log.error(
                "alert outbox %s cannot be written (%s): alerts are still delivered, "
                "but what is pending would not survive a restart",
                self.path,
                exc,
            )
        self.error = str(exc)

    def _written(self) -> None:
        if self.error:
            log.info("alert outbox %s written again", self.path)
            self.error = ""

    def add(self, routed: list[tuple[Alert, list[str]]]) -> list[int]:
        """Write each alert with a pending delivery per channel, in one transaction of a
        few multi-row statements (a statement per row would hand the GIL back and forth
        with the bus's dispatcher at every step); the alerts' ids (negative: not written)."""
        with self._lock:
            first = self._top + 1
            ids = list(range(first, first + len(routed)))
            alerts = [
                (i, a.at.isoformat(), a.kind, a.severity, a.title, a.body, a.key, a.account)
                for i, (a, _) in zip(ids, routed, strict=True)
            ]
            deliveries = [
                (i, c) for i, (_, channels) in zip(ids, routed, strict=True) for c in channels
            ]
            try:
                self._db.execute("BEGIN")
                _insert_many(
                    self._db, "alerts(id, at, kind, severity, title, body, key, account)", alerts
                )
                _insert_many(self._db, "deliveries(alert_id, channel)", deliveries)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._failed(exc)
                ids = list(range(self._next_id, self._next_id - len(routed), -1))
                self._next_id -= len(routed)
                return ids
            self._top = ids[-1] if ids else self._top
        self._written()
        return ids

    def collapsed(self, alert_id: int, count: int) -> None:
        """``count`` more alerts like this one were collapsed into it (de-duplication)."""
        if alert_id > 0:
            self._write("UPDATE alerts SET collapsed = ? WHERE id = ?", [(count, alert_id)])

    def mark(
        self, channel: str, ids: list[int], state: str, attempts: int, error: str = ""
    ) -> None:
        """The delivery of ``ids`` to ``channel`` is now ``state`` (a digest when several)."""
        done = datetime.now().isoformat() if state in ("sent", "failed") else None
        stored = [i for i in ids if i > 0]
        rows = [
            (state, attempts, error, done, int(len(ids) > 1), channel, *chunk)
            for chunk in (stored[lo : lo + CHUNK] for lo in range(0, len(stored), CHUNK))
        ]
        for row in rows:  # one statement per chunk of ids, all in one transaction
            marks = ",".join("?" * (len(row) - 6))
            self._write(
                "UPDATE deliveries SET state = ?, attempts = ?, error = ?, done_at = ?, "
                f"digest = ? WHERE channel = ? AND alert_id IN ({marks})",
                [row],
            )

    def pending(self, channel: str) -> list[Stored]:
        """What ``channel`` still has to deliver, oldest first (taken up at a start)."""
        return self.query("WHERE d.channel = ? AND d.state = 'pending'", (channel,), limit=0)

    def recent(self, limit: int = 50, state: str | None = None) -> list[Stored]:
        """The newest deliveries, newest first."""
        where, args = ("WHERE d.state = ?", (state,)) if state else ("", ())
        return self.query(where, args, limit=limit, newest_first=True)

    def query(
        self, where: str, args: tuple[Any, ...], *, limit: int, newest_first: bool = False
    ) -> list[Stored]:
        order = "DESC" if newest_first else "ASC"
        sql = (
            "SELECT a.id, a.at, a.kind, a.severity, a.title, a.body, a.key, a.account, "
            "d.channel, d.state, d.attempts, d.error, d.done_at, d.digest "
            f"FROM deliveries d JOIN alerts a ON a.id = d.alert_id {where} "
            f"ORDER BY a.id {order}, d.channel" + (f" LIMIT {int(limit)}" if limit else "")
        )
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [
            Stored(
                r[0],
                Alert(r[2], r[3], r[4], r[5], r[6], datetime.fromisoformat(r[1]), r[7]),
                r[8],
                r[9],
                r[10],
                r[11],
                r[12],
                bool(r[13]),
            )
            for r in rows
        ]

    def close(self) -> None:
        with self._lock:
            self._db.close()


class OutboxError(RuntimeError):
    """The alert outbox cannot be used; the message names it and says what to do."""


def check_outbox(path: Path) -> str:
    """Why the outbox at ``path`` cannot be trusted ("" when it can, or is not there yet):
    checked read-only before anything may write it."""
    if not path.exists():
        return ""
    try:
        check_file(path, {"alerts", "deliveries"}, append_only=("alerts", "id"))
    except Untrusted as exc:
        return (
            f"the alert outbox {path} cannot be trusted ({exc}). It is left as it is: restore "
            f"it from a backup, or move it aside (mv {path} {path}.damaged) to start an empty "
            "one (alerts still pending in it would not be sent)"
        )
    except OSError as exc:
        return f"the alert outbox {path} cannot be read: {exc.strerror}"
    return ""


def open_existing(data_dir: Path) -> Outbox | None:
    """The outbox of ``data_dir`` for ``quantdesk alerts list`` (None if there is none);
    WAL lets it be read while the console writes it."""
    path = data_dir / FILE
    return Outbox(path) if path.exists() else None
