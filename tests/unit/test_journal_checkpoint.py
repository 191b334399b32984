"""The journal's WAL is checkpointed by its own thread, never inside an order's commit,
and stays small under a steady stream of commits."""

from __future__ import annotations

import struct
import threading
import time
from pathlib import Path

from services.records.checkpoint import BACKSTOP_PAGES, Checkpointer
from services.records.journal import Journal

PAGE = 4096


def wal_frames(path: Path) -> int:
    """Frames in the log since it last restarted: ``mxFrame`` of the WAL index header
    (offset 16 of the -shm file), read without opening the database -- a reader that
    checkpointed would itself let the log restart."""
    header = Path(f"{path}-shm").read_bytes()[:48]
    return int(struct.unpack_from("<I", header, 16)[0])


def note(journal: Journal, n: int) -> None:
    journal.record_many([("note", f"r{i}", {"text": "x" * 1500}) for i in range(n)])


def test_commits_never_checkpoint_below_the_backstop(tmp_path: Path) -> None:
    """With the checkpointer stopped, 3,000+ pages of log are committed and the database
    file is not touched: no commit paid for a checkpoint (SQLite's default is every
    1,000 pages, inside the commit that crosses the mark)."""
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path)
    assert journal._checkpointer is not None
    journal._checkpointer.stop()
    size = path.stat().st_size
    for _ in range(30):  # one commit each, ~110 pages
        note(journal, 250)
    wal = (tmp_path / "journal.sqlite3-wal").stat().st_size
    assert 3_000 * PAGE < wal < BACKSTOP_PAGES * PAGE
    assert path.stat().st_size == size  # nothing was copied back yet
    journal.close()
    assert not (tmp_path / "journal.sqlite3-wal").exists()  # the close checkpointed it all
    assert len(Journal(path, readonly=True).entries("note")) == 30 * 250


def test_the_checkpointer_copies_the_log_into_the_database(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path)
    size = path.stat().st_size
    note(journal, 500)
    checkpointer = journal._checkpointer
    assert checkpointer is not None
    deadline = time.monotonic() + 5
    # the file grows while a checkpoint copies; it counts as a run once finished: wait for both
    while (path.stat().st_size == size or checkpointer.runs < 1) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.stat().st_size > size + 500 * 1500  # the rows reached the database file
    assert checkpointer.runs >= 1 and not checkpointer.failing
    journal.close()


def test_a_steady_stream_of_commits_keeps_the_log_short(tmp_path: Path) -> None:
    """A writer that never pauses: the log restarts from its beginning again and again
    (the catch-up holds the writer's lock briefly), so it never grows far past the
    marks, where a checkpointer that only copies would let it grow to the backstop."""
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path)
    assert journal._checkpointer is not None
    journal._checkpointer.stop()
    mark = 300
    checkpointer = Checkpointer(
        path,
        synchronous="NORMAL",
        quiesce=journal._lock,
        interval=0.02,
        restart_pages=mark,
        hard_pages=3 * mark,  # a busy disk (this test's writer) defers it to here
    )
    checkpointer.start()
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():  # thousands of commits a second, each a moment apart
            journal.record("note", "r", {"text": "x" * 300})
            time.sleep(0.0002)

    writer = threading.Thread(target=write)
    writer.start()
    longest = 0
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            longest = max(longest, wal_frames(path))
            time.sleep(0.01)
    finally:
        stop.set()
        writer.join()
        checkpointer.stop()
    assert checkpointer.catch_ups >= 2
    assert longest < 10 * mark, longest
    journal.close()
