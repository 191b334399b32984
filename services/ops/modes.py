"""The three modes and where each keeps its journal (and so its account).

demo    the simulated market; the journal at the top of the data directory
        (where it always was, so existing data directories keep their account)
paper   real quotes, paper fills; ``<data dir>/paper/journal.sqlite3``
replay  a recording played back; ``<data dir>/replay/journal.sqlite3``, started
        afresh on every replay (the previous one is kept under ``replay/previous``)
live    a broker account (``[[accounts]]``), started only from the command line
        (``quantdesk --mode live --account ID``, confirmed by typing the id);
        ``<data dir>/accounts/<id>/journal.sqlite3``

The market data store and the recordings are shared: they are facts about the
market, not about an account.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

from services.records.sqlite_files import connect_readonly

MODES = ("demo", "paper", "replay")  # what [app] mode may say
LIVE = "live"  # never from config: only `--mode live --account ID` and a typed confirmation
CLI_MODES = (*MODES, LIVE)
JOURNAL = "journal.sqlite3"


def mode_dir(data_dir: Path, mode: str, account: str = "") -> Path:
    """Where ``mode`` keeps its journal (live: the account's own folder)."""
    if mode == LIVE:
        if not account:
            raise ValueError("live mode trades one account: give --account ID")
        return data_dir / "accounts" / account
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}: one of {', '.join(CLI_MODES)}")
    return data_dir if mode == "demo" else data_dir / mode


def journal_path(data_dir: Path, mode: str, account: str = "") -> Path:
    return mode_dir(data_dir, mode, account) / JOURNAL


def traded_before(data_dir: Path) -> bool:
    """Whether any account of ``data_dir`` ever journaled anything -- any mode, any live
    account, an earlier replay -- so that it is not brand new: demo history (synthetic
    bars) goes only into a data directory that never traded, never under a journal whose
    store was emptied or deleted (it would pass for history)."""
    backups = data_dir / "backups"
    for path in data_dir.rglob("journal*.sqlite3"):
        if path.is_relative_to(backups):
            continue
        try:
            db = connect_readonly(path)
            try:
                if db.execute("SELECT 1 FROM entries LIMIT 1").fetchone():
                    return True
            finally:
                db.close()
        except sqlite3.Error:
            return True  # something is there, even if it cannot be read
    return False


def recordings_dir(data_dir: Path) -> Path:
    return data_dir / "recordings"


def set_aside_replay_journal(data_dir: Path) -> Path | None:
    """Move the last replay's journal (and its WAL files) under ``replay/previous``; the
    new replay starts from a fresh account. Returns where it went, None if none existed."""
    path = journal_path(data_dir, "replay")
    if not path.exists():
        return None
    keep = path.parent / "previous"
    keep.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y%m%d-%H%M%S")
    target = keep / f"journal-{stamp}.sqlite3"
    n = 1
    while target.exists():
        n += 1
        target = keep / f"journal-{stamp}-{n}.sqlite3"
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    path.rename(target)
    return target
