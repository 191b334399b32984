"""The journal's WAL checkpoints, run off the order path.

SQLite checkpoints a WAL database by itself every 1,000 pages of log, inside the
commit that crosses the mark: that commit copies ~4 MB back into the database
and fsyncs it before it returns. On the order path that is a 5-50 ms pause of
whichever submission happened to commit then -- every ~0.25 s at 200 orders a
second, because one submit-and-cancel writes ~18 pages of log (bench/backup.py).

So the journal's own connection checkpoints only as a backstop (every
``BACKSTOP_PAGES``, should this thread ever stop), and this thread runs
``PRAGMA wal_checkpoint(PASSIVE)`` on a second connection to the same file:
PASSIVE never waits for the writer or a reader, and Python's sqlite3 lets go
of the GIL while SQLite copies and syncs. ``WAL_LIMIT_BYTES`` trims the WAL file
back when it restarts after a burst.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

log = logging.getLogger("quantdesk.journal")

BACKSTOP_PAGES = 20_000  # ~80 MB of log: the writer checkpoints itself only past this
RESTART_PAGES = 2_000  # ~8 MB of log: past this, a short catch-up lets the writer restart it
HARD_PAGES = 8_000  # ~32 MB of log: past this, the catch-up runs even on a busy disk
QUICK_S = 0.005  # a free run this quick says the disk is free: the locked one will be quick
WAL_LIMIT_BYTES = 16 * 1024 * 1024  # the WAL file is trimmed to this when it restarts


class Checkpointer:
    """Checkpoints one WAL database from its own thread every ``interval`` seconds; a
    failure is logged once and retried.

    The log restarts from its beginning only when a checkpoint has copied all of it
    before the writer's next commit. Under a steady stream of orders that rarely
    happens by chance, so once the log holds ``RESTART_PAGES`` the checkpointer
    catches up in two steps: a PASSIVE run copies (and syncs) nearly everything with
    the writer free, then one more holds the writer's ``quiesce`` lock just to copy
    the few pages committed meanwhile (under 1 ms at the median, 6 ms at most, at 200
    orders a second on this project's machine). Its syncs wait for the disk like any
    other, so it runs only when the free run was quick (``QUICK_S``): while a backup
    keeps the disk busy the log grows instead, up to ``HARD_PAGES``.
    """

    def __init__(
        self,
        path: Path,
        *,
        synchronous: str,
        quiesce: threading.Lock,
        interval: float = 0.2,
        restart_pages: int = RESTART_PAGES,
        hard_pages: int = HARD_PAGES,
    ) -> None:
        self.path = path
        self.interval = interval
        self.restart_pages = restart_pages
        self.hard_pages = hard_pages
        self._synchronous = synchronous
        self._quiesce = quiesce
        self._stop = threading.Event()
        self.runs = 0  # checkpoints that ran
        self.catch_ups = 0  # of which held the writer's lock
        self.failing = ""  # why the last one failed ("" while they work)
        self._db: sqlite3.Connection | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"checkpoint-{path.parent.name}", daemon=True
        )

    def start(self) -> None:
        """Open the second connection (here, so that an error reaches the caller) and start."""
        self._db = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=0
        )
        self._db.execute(f"PRAGMA synchronous={self._synchronous}")
        self._thread.start()

    def checkpoint(self) -> int:
        """One PASSIVE checkpoint now: the pages in the log (copied or not) since it last
        restarted, or -1 if it failed."""
        assert self._db is not None, "start() first"
        try:
            _busy, logged, _copied = self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:
            if not self.failing:
                log.warning("journal checkpoint of %s failed (retried): %s", self.path, exc)
            self.failing = str(exc)
            return -1
        if self.failing:
            log.info("journal checkpoint of %s works again", self.path)
            self.failing = ""
        self.runs += 1
        return int(logged)

    def catch_up(self) -> None:
        """Copy the log to its end, so that the writer's next commit restarts it."""
        started = time.perf_counter()
        logged = self.checkpoint()
        busy_disk = time.perf_counter() - started > QUICK_S
        if logged < 0 or (busy_disk and logged < self.hard_pages):
            return  # the next round tries again
        with self._quiesce:
            self.catch_ups += 1
            self.checkpoint()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self.checkpoint() >= self.restart_pages and not self._stop.is_set():
                self.catch_up()

    def stop(self) -> None:
        """Stop the thread and close its connection (the journal closes after)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        if self._db is not None and not self._thread.is_alive():
            self._db.close()
            self._db = None
