"""The order journal: SQLite in WAL mode, written before anything is acted on.

Every intent with its verdict, every submission (before the gateway is
called: write-ahead), every broker order update and every fill is appended
to ``entries``. Bus handlers for broker events are registered before the UI
bridge, so an update is on disk before the UI is told. The trading state
lives in ``state`` so that a restart comes back as it left.

WAL with ``synchronous=NORMAL``: a committed row survives a crash of the
process; only an OS crash or power loss can lose the last transactions. A live
account's journal uses ``synchronous=FULL`` (``durable``): every commit is on
disk before the order goes to the broker, power loss included (what it costs:
bench/live_order_path.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any, NoReturn

from vnpy.event import Event

from services.records.checkpoint import BACKSTOP_PAGES, WAL_LIMIT_BYTES, Checkpointer
from services.records.sqlite_files import Untrusted, check_file, connect_readonly, create_private

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


SET_STATE = (
    "INSERT INTO state(key, value, at) VALUES (?, ?, ?) "
    "ON CONFLICT(key) DO UPDATE SET value = excluded.value, at = excluded.at"
)
TRADING_STATE_KEY = "trading_state"  # in the state table: the persisted trading state
TRADING_STATES = ("ACTIVE", "REDUCING", "HALTED")  # services.events.TradingState's names


class JournalError(RuntimeError):
    """The journal could not be opened or written; trading must not go on without it."""

    first = False  # the first write failure of this journal (its owner HALTs on it)


def damaged(path: Path, why: object) -> JournalError:
    """The error for a journal that exists but cannot be read: never reset, say what to do."""
    advice = getattr(why, "advice", "") or (
        f"It is left as it is: restore it from a backup, or move it aside (mv {path} "
        f"{path}.damaged) to start a fresh account"
    )
    return JournalError(f"the journal {path} cannot be trusted ({why}). {advice}")


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

    def __init__(self, path: Path, *, readonly: bool = False, durable: bool = False) -> None:
        """Open (or, unless ``readonly``, create) the journal at ``path``.

        A file that exists but is empty, is not a journal or is damaged is an error
        naming it (:func:`damaged`), never a fresh account. ``readonly`` opens without
        writing anything, also in a read-only directory (an auditor's copy).
        """
        self.path = path
        self.readonly = readonly
        # Stamps entries; a replay sets it to the recording's clock (identical journals).
        self.clock: Callable[[], datetime] = datetime.now
        self.on_failure: Callable[[str], object] | None = None  # told once a write fails
        # The fee the ledger books for a trade and its source (broker or model): recorded
        # with each fill, so that a rebuild books what the ledger booked.
        self.fee_of: Callable[[Any], tuple[float, str]] | None = None
        self.failed = ""
        self._lock = threading.Lock()
        self._checkpointer: Checkpointer | None = None
        existed = path.exists()
        if readonly and not existed:
            raise JournalError(f"no journal at {path}")
        if existed:
            # Checked read-only before any connection that can write opens it: SQLite would
            # apply (and a writer's close make permanent) a -wal that is not this file's.
            try:
                check_file(path, {"entries", "state"}, append_only=("entries", "seq"))
            except Untrusted as exc:
                raise damaged(path, exc) from None
            except OSError as exc:
                raise JournalError(f"cannot read the journal {path}: {exc.strerror}") from None
        try:
            if readonly:
                self._db = connect_readonly(path, threads=True)
                return
            if not existed:
                _create(path)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise JournalError(f"{path}: SQLite refused WAL mode (got {mode})")
            synchronous = "FULL" if durable else "NORMAL"
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            # Checkpoints run on their own thread, not inside an order's commit (checkpoint.py).
            self._db.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
            self._db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")
            self._checkpointer = Checkpointer(path, synchronous=synchronous, quiesce=self._lock)
            self._checkpointer.start()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and not _is_corruption(exc):
                raise JournalError(f"cannot open the journal {path}: {exc}") from exc
            raise damaged(path, exc) from exc

    def _failed(self, exc: sqlite3.Error) -> JournalError:
        """A write failed (a full disk, I/O): remember the first failure (lock held)."""
        message = f"journal write failed ({self.path}): {exc}"
        error = JournalError(message)
        error.first = not self.failed
        self.failed = self.failed or message
        return error

    def _raise(self, failure: JournalError) -> NoReturn:
        """Tell the owner of the first failure (it HALTs trading), outside the lock; raise.
        The failure is also marked beside the journal (an empty file still says it on a
        full disk): the HALT could not be persisted, and the next start must know."""
        if failure.first:
            self._mark_failure(str(failure))
            if self.on_failure is not None:
                self.on_failure(str(failure))
        raise failure

    @property
    def failure_mark(self) -> Path:
        return self.path.with_name(self.path.name + ".write-failed")

    def _mark_failure(self, message: str) -> None:
        try:
            fd = os.open(self.failure_mark, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError:
            return
        try:
            os.write(fd, f"{self.clock().isoformat(timespec='seconds')} {message}".encode())
        except OSError:
            pass  # a full disk: the empty mark says it all the same
        finally:
            os.close(fd)

    def earlier_failure(self) -> str:
        """What an earlier session's failed write left ("" when none): the mark's words,
        or its time when the disk was too full to hold them."""
        try:
            text = self.failure_mark.read_text(encoding="utf-8", errors="replace").strip()
            when = datetime.fromtimestamp(self.failure_mark.stat().st_mtime)
        except FileNotFoundError:
            return ""
        except OSError as exc:
            return f"its mark cannot be read ({exc.strerror})"
        return text or f"{when:%Y-%m-%d %H:%M:%S} journal write failed (the disk was full)"

    def clear_failure(self) -> None:
        self.failure_mark.unlink(missing_ok=True)

    def record(self, kind: str, ref: str, payload: Any) -> int:
        """Append one entry and return its sequence number."""
        text = json.dumps(_plain(payload), ensure_ascii=False, default=str)
        with self._lock:
            try:
                cur = self._db.execute(
                    "INSERT INTO entries(at, kind, ref, payload) VALUES (?, ?, ?, ?)",
                    (self.clock().isoformat(), kind, ref, text),
                )
            except sqlite3.Error as exc:
                failure = self._failed(exc)
            else:
                return int(cur.lastrowid or 0)
        self._raise(failure)

    def record_many(self, rows: list[tuple[str, str, Any]]) -> None:
        """Append (kind, ref, payload) rows in one transaction: one commit for a batch."""
        self._transaction(self.clock().isoformat(), rows)

    def _transaction(
        self, now: str, rows: list[tuple[str, str, Any]], state: tuple[str, str] | None = None
    ) -> None:
        """Append ``rows`` and, with ``state``, persist (key, value), all in one commit."""
        values = [
            (now, kind, ref, json.dumps(_plain(payload), ensure_ascii=False, default=str))
            for kind, ref, payload in rows
        ]
        with self._lock:
            try:
                self._db.execute("BEGIN")
                if state is not None:
                    self._db.execute(SET_STATE, (*state, now))
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
                    with contextlib.suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                failure = self._failed(exc)
            else:
                return
        self._raise(failure)

    def entries(
        self, kind: str | None = None, ref: str | None = None, since: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Entries in order, of ``kind``, about ``ref``, journaled at or after ``since``."""
        sql = "SELECT seq, at, kind, ref, payload FROM entries"
        where, args = [], []
        if since is not None:
            where.append("at >= ?")
            args.append(since.isoformat())
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        if ref is not None:
            where.append("ref = ?")
            args.append(ref)
        if where:
            sql += " WHERE " + " AND ".join(where)
        try:
            with self._lock:
                rows = self._db.execute(sql + " ORDER BY seq", args).fetchall()
            return [
                {"seq": s, "at": a, "kind": k, "ref": r, "payload": json.loads(p)}
                for s, a, k, r, p in rows
            ]
        except (sqlite3.DatabaseError, ValueError) as exc:
            raise damaged(self.path, exc) from exc

    def trading_state(self) -> tuple[str, str, str] | None:
        """The persisted trading state as (state name, reason, ISO time), None if never set:
        the one reader of what :class:`services.trading.control.TradingControl` writes.

        A record that cannot be read (not JSON, a field missing, a state quantdesk does
        not know such as ``"halted"``) fails safe: HALTED, saying why, never a KeyError."""
        saved = self.get_state(TRADING_STATE_KEY)
        if not saved:
            return None
        try:
            data = json.loads(saved)
            state, at = str(data["state"]), str(data["at"])
            datetime.fromisoformat(at)
            if state not in TRADING_STATES:
                raise ValueError(f"unknown state {state!r}")
            return state, str(data.get("reason", "")), at
        except (ValueError, KeyError, TypeError) as exc:
            why = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)
            return (
                "HALTED",
                f"the persisted trading state in {self.path.name} cannot be read ({why}): "
                "HALTED until you re-arm",
                datetime.now().isoformat(),
            )

    def get_state(self, key: str) -> str | None:
        try:
            with self._lock:
                row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        except sqlite3.DatabaseError as exc:
            raise damaged(self.path, exc) from exc
        return None if row is None else str(row[0])

    def set_state(self, key: str, value: str, entry: tuple[str, str, Any] | None = None) -> None:
        """Persist ``key`` = ``value``; with ``entry`` (kind, ref, payload), append the entry
        that says why in the same commit: a crash never leaves one without the other."""
        self._transaction(self.clock().isoformat(), [] if entry is None else [entry], (key, value))

    # -- bus handlers (registered before the UI bridge) --------------------------
    def on_order(self, event: Event) -> None:
        order = event.data
        self.record("order", order.vt_orderid, _order_payload(order))

    def on_trade(self, event: Event) -> None:
        trade = event.data
        fee, source = (trade.extra or {}).get("fee"), "broker"
        if fee is None and self.fee_of is not None:
            fee, source = self.fee_of(trade)
        self.record(
            "fill",
            trade.vt_orderid,
            {
                "vt_tradeid": trade.vt_tradeid,
                "vt_symbol": trade.vt_symbol,
                "direction": trade.direction.name if trade.direction else None,
                "price": trade.price,
                "volume": trade.volume,
                "fee": fee,
                "fee_source": source if fee is not None else None,
                "at": trade.datetime,
            },
        )

    def on_session_rolled(self, event: Event) -> None:
        rolled = event.data
        self.record("day", str(rolled.trading_day), {"closes": rolled.closes})

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        with self._lock:
            self._db.close()  # the last connection: SQLite checkpoints and removes the WAL


def _create(path: Path) -> None:
    """A new journal appears whole: built under a temporary name, then renamed into place,
    so an empty or half-made file at ``path`` always means damage, never "new"."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    tmp.unlink(missing_ok=True)
    create_private(tmp)
    db = sqlite3.connect(tmp)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SCHEMA)
    finally:
        db.close()
    os.replace(tmp, path)


def _is_corruption(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text or "corrupt" in text


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
