"""Saved backtest runs: SQLite in WAL mode at ``<data dir>/backtests.db``.

A run is stored whole -- the JSON document of ``request.execute`` with the
parameters, the ArcticDB snapshot of the data it read and the code version --
so it can be shown, compared or exported later exactly as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypedDict

import strategies
from services.backtest.spec import RunDoc
from services.records.sqlite_files import Untrusted, check_file, create_private

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    strategy TEXT NOT NULL,
    symbol TEXT NOT NULL,
    params TEXT NOT NULL,
    metrics TEXT NOT NULL,
    doc TEXT NOT NULL
)
"""


def code_version(strategy: str) -> dict[str, str]:
    """The package version, the git commit when run from a checkout, the strategy's hash."""
    from importlib.metadata import PackageNotFoundError, version

    module = strategies.get(strategy).signal.__module__
    source = Path(__import__(module, fromlist=["_"]).__file__ or "")
    out = {"strategy_sha256": hashlib.sha256(source.read_bytes()).hexdigest()[:16]}
    try:
        out["quantdesk"] = version("quantdesk")
    except PackageNotFoundError:
        out["quantdesk"] = "unknown"
    root = str(Path(__file__).resolve().parents[2])

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", root, *args], capture_output=True, text=True, timeout=5, check=True
        )
        return done.stdout.strip()

    try:
        dirty = git("status", "--porcelain", "--untracked-files=no")
        out["git"] = git("rev-parse", "--short=12", "HEAD") + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass  # not a checkout (an installed wheel): the version and the hash remain
    return out


class Provenance(TypedDict):
    """A saved run's record of its inputs (merged into its RunDoc)."""

    snapshot: str
    code_version: dict[str, str]


def stamp(doc: RunDoc, what: Provenance) -> None:
    """Record ``what`` in ``doc``."""
    doc["snapshot"], doc["code_version"] = what["snapshot"], what["code_version"]


def provenance(store: Any, freq: str, strategy: str, as_of: str | None = None) -> Provenance:
    """What a saved run records about its inputs: a snapshot of the data, the code version.

    Taken when the bars are read, so the snapshot is the data the run saw; a run that
    read a named snapshot (``--as-of``) records that one.
    """
    snapshot = as_of or store.snapshot(freq, "backtest")
    return {"snapshot": snapshot, "code_version": code_version(strategy)}


def reproduce(saved: RunDoc, again: RunDoc) -> list[str]:
    """Where a rerun differs from the saved run: metrics, trades, sweep ranking (empty when
    it reproduced the run exactly)."""
    out = []
    for key in ("metrics", "trades", "sweep", "oos", "walk_forward", "start", "end"):
        a, b = saved.get(key), again.get(key)
        if json.dumps(a, sort_keys=True, default=str) != json.dumps(b, sort_keys=True, default=str):
            if key == "metrics" and isinstance(a, dict) and isinstance(b, dict):
                out += [f"{k}: {a.get(k)} → {b.get(k)}" for k in a if a.get(k) != b.get(k)]
            elif key == "trades" and isinstance(a, list) and isinstance(b, list):
                out.append(f"trades: {len(a)} saved, {len(b)} now (or their fields differ)")
            else:
                out.append(f"{key} differs")
    return out


@dataclass(frozen=True)
class RunSummary:
    id: int
    created: str
    strategy: str
    symbol: str
    params: dict[str, float]
    metrics: dict[str, float | None]


class RunsError(ValueError):
    """The saved runs' file cannot be used; the message names it and says what to do."""


def damaged_runs(path: Path, why: object) -> RunsError:
    return RunsError(
        f"the saved runs {path} cannot be trusted ({why}). It is left as it is: restore it "
        f"from a backup, or move it aside (mv {path} {path}.damaged) to start a new list"
    )


class RunStore:
    """Save, list, load and compare runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.exists():  # checked read-only before a connection that can write opens it
            try:
                check_file(path, {"runs"}, append_only=("runs", "id"))
            except Untrusted as exc:
                raise damaged_runs(path, exc) from None
        create_private(path)
        with self._db() as db:
            db.execute(SCHEMA)

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A connection for one use: committed, then closed (the last close checkpoints
        the write-ahead log into the file)."""
        try:
            db = sqlite3.connect(self.path, timeout=10)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as exc:
            raise damaged_runs(self.path, exc) from None
        try:
            with db:
                yield db
        except sqlite3.DatabaseError as exc:
            raise damaged_runs(self.path, exc) from None
        finally:
            db.close()

    def save(self, doc: RunDoc) -> int:
        created = datetime.now().isoformat(timespec="seconds")
        with self._db() as db:
            cur = db.execute(
                "INSERT INTO runs (created, strategy, symbol, params, metrics, doc) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    created,
                    doc["strategy"],
                    doc["symbol"],
                    json.dumps(doc["params"]),
                    json.dumps(doc["metrics"]),
                    json.dumps({**doc, "created": created}),
                ),
            )
            return int(cur.lastrowid or 0)

    def list(self, limit: int = 50) -> list[RunSummary]:
        with self._db() as db:
            rows = db.execute(
                "SELECT id, created, strategy, symbol, params, metrics FROM runs "
                "ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            RunSummary(r[0], r[1], r[2], r[3], json.loads(r[4]), json.loads(r[5])) for r in rows
        ]

    def load(self, run_id: int) -> RunDoc:
        with self._db() as db:
            row = db.execute("SELECT doc FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise ValueError(f"no saved run {run_id}: `quantdesk runs` lists them")
        doc: RunDoc = json.loads(row[0])
        doc["run_id"] = run_id
        return doc


def compare(a: RunDoc, b: RunDoc) -> list[tuple[str, Any, Any]]:
    """Side by side: what differs in the setup, then every metric."""
    rows: list[tuple[str, Any, Any]] = []
    for key in ("strategy", "symbol", "start", "end", "adjust", "snapshot"):
        rows.append((key, a.get(key), b.get(key)))
    for key in sorted({*a["params"], *b["params"]}):
        rows.append((f"param {key}", a["params"].get(key), b["params"].get(key)))
    for key in sorted({*a.get("setup", {}), *b.get("setup", {})}):
        va, vb = a.get("setup", {}).get(key), b.get("setup", {}).get(key)
        if va != vb:
            rows.append((f"setup {key}", va, vb))
    for key in a["metrics"]:
        rows.append((key, a["metrics"].get(key), b["metrics"].get(key)))
    return rows
