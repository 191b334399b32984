"""The order journal: SQLite in WAL mode, written before anything is acted on.

Every intent with its verdict, every submission (before the gateway is
called: write-ahead), every broker order update and every fill is appended
to ``entries``. Bus handlers for broker events are registered before the UI
bridge, so an update is on disk before the UI is told. The trading state
lives in ``state`` so that a restart comes back as it left.

WAL with ``synchronous=NORMAL``: a committed row survives a crash of the
process; only an OS crash or power loss can lose the last transactions.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from vnpy.event import Event

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_ref ON entries(ref);
CREATE TABLE IF NOT EXISTS state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    at TEXT NOT NULL
);
"""


class JournalError(RuntimeError):
    """The journal could not be opened or written; trading must not go on without it."""


def _plain(value: Any) -> Any:
    """A JSON-ready form of dataclasses, enums and dates."""
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class Journal:
    """Append-only record of the order path plus small persisted state."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise JournalError(f"cannot open the journal {path}: {exc}") from exc
        if str(mode).lower() != "wal":
            raise JournalError(f"{path}: SQLite refused WAL mode (got {mode})")
        self._lock = threading.Lock()

    def record(self, kind: str, ref: str, payload: Any) -> int:
        """Append one entry and return its sequence number."""
        text = json.dumps(_plain(payload), ensure_ascii=False, default=str)
        with self._lock:
            try:
                cur = self._db.execute(
                    "INSERT INTO entries(at, kind, ref, payload) VALUES (?, ?, ?, ?)",
                    (datetime.now().isoformat(), kind, ref, text),
                )
            except sqlite3.Error as exc:
                raise JournalError(f"journal write failed ({self.path}): {exc}") from exc
            return int(cur.lastrowid or 0)

    def record_many(self, rows: list[tuple[str, str, Any]]) -> None:
        """Append (kind, ref, payload) rows in one transaction: one commit for a batch."""
        now = datetime.now().isoformat()
        values = [
            (now, kind, ref, json.dumps(_plain(payload), ensure_ascii=False, default=str))
            for kind, ref, payload in rows
        ]
        with self._lock:
            try:
                self._db.execute("BEGIN")
                # Multi-row INSERTs: each statement step releases and re-takes the GIL, and
                # with a busy dispatcher thread every re-take can wait a switch interval.
                for lo in range(0, len(values), 200):
                    chunk = values[lo : lo + 200]
                    marks = ",".join(["(?, ?, ?, ?)"] * len(chunk))
                    self._db.execute(
                        f"INSERT INTO entries(at, kind, ref, payload) VALUES {marks}",
                        [v for row in chunk for v in row],
                    )
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise JournalError(f"journal write failed ({self.path}): {exc}") from exc

    def entries(self, kind: str | None = None, ref: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT seq, at, kind, ref, payload FROM entries"
        where, args = [], []
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        if ref is not None:
            where.append("ref = ?")
            args.append(ref)
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY seq", args).fetchall()
        return [
            {"seq": s, "at": a, "kind": k, "ref": r, "payload": json.loads(p)}
            for s, a, k, r, p in rows
        ]

    def get_state(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_state(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO state(key, value, at) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value, at = excluded.at",
                (key, value, datetime.now().isoformat()),
            )

    # -- bus handlers (registered before the UI bridge) --------------------------
    def on_order(self, event: Event) -> None:
        order = event.data
        self.record("order", order.vt_orderid, _order_payload(order))

    def on_trade(self, event: Event) -> None:
        trade = event.data
        self.record(
            "fill",
            trade.vt_orderid,
            {
                "vt_tradeid": trade.vt_tradeid,
                "vt_symbol": trade.vt_symbol,
                "direction": trade.direction.name if trade.direction else None,
                "price": trade.price,
                "volume": trade.volume,
                "fee": (trade.extra or {}).get("fee"),
                "at": trade.datetime,
            },
        )

    def on_session_rolled(self, event: Event) -> None:
        rolled = event.data
        self.record("day", str(rolled.trading_day), {"closes": rolled.closes})

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _order_payload(order: Any) -> dict[str, Any]:
    return {
        "vt_symbol": order.vt_symbol,
        "direction": order.direction.name if order.direction else None,
        "type": order.type.name,
        "price": order.price,
        "volume": order.volume,
        "traded": order.traded,
        "status": order.status.name,
        "reason": (order.extra or {}).get("reason"),
        "at": order.datetime,
    }
