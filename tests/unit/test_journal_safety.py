"""A journal that cannot be read is an error, never a fresh account; a journal that
cannot be written HALTs trading; an emptied store is not refilled with synthetic bars;
secrets are masked; CSV cells cannot run in a spreadsheet."""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from console.cli import main
from console.ops_cli import cell
from services.events import OrderIntent, TradingState
from services.ops.redact import RedactingFilter, redact
from services.records.journal import Journal, JournalError
from services.runtime import Services
from tests.conftest import make_services


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_empty_journal_is_refused_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    path.touch()
    with pytest.raises(JournalError, match=r"cannot be trusted \(the file is empty"):
        Journal(path)
    with pytest.raises(JournalError, match="move it aside"):
        make_services(tmp_path)
    assert path.stat().st_size == 0  # never turned into a fresh account


def test_a_corrupted_journal_is_refused_with_the_file_named_and_kept(tmp_path: Path) -> None:
    svc = make_services(tmp_path)
    for n in range(300):
        svc.journal.record("note", f"r{n}", {"text": "x" * 200})
    svc.stop()
    path = tmp_path / "journal.sqlite3"
    data = bytearray(path.read_bytes())
    assert len(data) > 3 * 4096
    data[2 * 4096 : 3 * 4096] = b"\xa5" * 4096  # a page in the middle of the entries
    path.write_bytes(bytes(data))
    before = digest(path)
    with pytest.raises(JournalError) as raised:
        make_services(tmp_path)
    assert str(path) in str(raised.value) and "restore it from a backup" in str(raised.value)
    assert digest(path) == before


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    path.write_bytes(b"this is a text file, not SQLite" * 100)
    with pytest.raises(JournalError, match="cannot be trusted"):
        Journal(path)


def _crash_with_log(path: Path, entries: int) -> None:
    """A journal whose process died with its write-ahead log unchecked (as kill -9 leaves)."""
    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from services.records.journal import Journal\n"
        f"j = Journal(Path({str(path)!r}))\n"
        f"for n in range({entries}): j.record('note', f'r{{n}}', {{'text': 'x' * 200}})\n"
        "j._checkpointer.stop()\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert path.with_name(path.name + "-wal").stat().st_size > 0


def test_a_foreign_write_ahead_log_is_refused_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A journal copied back by hand over a crashed one, the crashed one's -wal beside it:
    SQLite would apply that log (quick_check passes) and a writer make it permanent."""
    kept = tmp_path / "kept" / "journal.sqlite3"
    journal = Journal(kept)
    for n in range(120):
        journal.record("note", f"k{n}", {"text": "y" * 200})
    journal.close()
    data = tmp_path / "data"
    _crash_with_log(data / "journal.sqlite3", 40)
    shutil.copyfile(kept, data / "journal.sqlite3")  # copied back; the -wal stays
    # The journal and its log, byte for byte (-shm is SQLite's index of the log, a cache).
    before = {p.name: digest(p) for p in data.iterdir() if not p.name.endswith("-shm")}
    with pytest.raises(JournalError, match="belongs to another file") as raised:
        Journal(data / "journal.sqlite3")
    assert "move journal.sqlite3-wal and journal.sqlite3-shm aside" in str(raised.value)
    with pytest.raises(JournalError, match="belongs to another file"):
        Journal(data / "journal.sqlite3", readonly=True)
    for argv in (["state"], ["--headless"]):
        assert main([*argv, "--data-dir", str(data)]) == 2
        assert "belongs to another file" in capsys.readouterr().err
    assert {p.name: digest(p) for p in data.iterdir() if p.name in before} == before
    (data / "journal.sqlite3-wal").unlink()  # the advice followed: the file as it holds itself
    (data / "journal.sqlite3-shm").unlink()
    assert len(Journal(data / "journal.sqlite3", readonly=True).entries()) == 120


def test_a_journal_with_its_own_log_after_a_crash_opens_whole(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    _crash_with_log(path, 300)
    journal = Journal(path)
    assert len(journal.entries()) == 300
    journal.close()


def test_a_new_journal_appears_whole(tmp_path: Path) -> None:
    path = tmp_path / "j" / "journal.sqlite3"
    Journal(path).close()
    assert path.stat().st_size > 0
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []


def test_a_readonly_journal_reads_without_writing(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    journal.record("note", "a", {"n": 1})
    journal.close()
    reader = Journal(tmp_path / "journal.sqlite3", readonly=True)
    assert [e["ref"] for e in reader.entries()] == ["a"]
    with pytest.raises(JournalError):
        reader.record("note", "b", {})
    reader.close()


def _fill_the_disk(svc: Services) -> None:
    """SQLite's own 'database or disk is full' (SQLITE_FULL), as on a full disk: the
    journal may not grow by a single page from now on."""
    db = svc.journal._db
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")


def test_a_failed_journal_write_halts_trading_and_says_why(tmp_path: Path) -> None:
    svc = make_services(tmp_path)
    svc.start()
    try:
        assert svc.bus.wait_idle()
        tick = svc.market.get("600519.SSE")
        assert tick is not None
        _fill_the_disk(svc)
        results = []
        for n in range(200):  # orders until the journal's last page is full
            price = round(tick.ask_price_1 - 0.01 * n, 2)  # distinct: no duplicate rule
            results.append(
                svc.orders.submit(OrderIntent(f"x{n}", "600519.SSE", "buy", "limit", 100, price))
            )
            if svc.control.state is TradingState.HALTED:
                break
        assert svc.control.state is TradingState.HALTED, "the journal never filled up"
        assert "JOURNAL WRITE FAILED" in svc.control.reason
        assert "full" in svc.control.journal_error
        # the failing write may be the order path's own or a broker update's on the bus:
        # either way nothing more goes out
        sent: list[object] = []
        svc.gateway.send_order = sent.append  # type: ignore[method-assign,assignment]
        later = svc.orders.submit(
            OrderIntent("later", "600519.SSE", "buy", "limit", 100, tick.ask_price_1)
        )
        assert not later.accepted and sent == []
        assert {v.rule for v in later.violations} & {"journal", "state"}
        assert svc.bus.wait_idle()
        with pytest.raises(Exception, match="journal cannot be written"):
            svc.control.rearm("ARM")  # no way back to ACTIVE without a journal
    finally:
        svc.stop()


def test_a_state_and_the_entry_that_says_why_are_one_commit(tmp_path: Path) -> None:
    """A re-arm persists ACTIVE and journals it together: when the entry cannot be
    written, the state is not changed either (a crash between two commits left a restart
    ACTIVE with no entry of the re-arm; the crash test found it)."""
    import sqlite3

    from services.bus import Bus
    from services.trading.control import TradingControl

    path = tmp_path / "journal.sqlite3"
    journal = Journal(path)
    control = TradingControl(journal, Bus())
    control.halt("test")
    with sqlite3.connect(path) as db:  # the next state entry fails, as a crash would stop it
        db.execute(
            "CREATE TRIGGER no_rearm BEFORE INSERT ON entries WHEN NEW.kind = 'state' "
            "AND NEW.ref = 'ACTIVE' BEGIN SELECT RAISE(ABORT, 'disk gone'); END"
        )
    with pytest.raises(JournalError, match="disk gone"):
        control.rearm("ARM")
    journal.close()
    reopened = Journal(path, readonly=True)
    saved = reopened.trading_state()
    assert saved is not None and saved[0] == "HALTED"
    assert [e["ref"] for e in reopened.entries("state")] == ["HALTED"]
    reopened.close()


def test_a_deleted_store_is_not_refilled_with_demo_bars(tmp_path: Path) -> None:
    first = make_services(tmp_path)
    assert first.fresh
    prep = first.prepare_market()
    assert prep.seeded and not prep.error
    first.stop()
    shutil.rmtree(tmp_path / "arctic")
    again = make_services(tmp_path)
    try:
        assert not again.fresh
        prep = again.prepare_market()
        assert prep.seeded == "" and "has no daily bars" in prep.error
        assert "quantdesk data sync" in prep.error
        assert again.store.symbols("1d") == []
    finally:
        again.stop()


def test_a_store_deleted_under_another_modes_journal_is_not_refilled(tmp_path: Path) -> None:
    """The paper account traded here; its store deleted; the demo starts: the directory is
    not brand new, so no synthetic bars go into the store the paper account reads."""
    paper = tmp_path / "paper" / "journal.sqlite3"
    journal = Journal(paper)
    journal.record("intent", "p1", {"traded": "in paper mode"})
    journal.close()
    demo = make_services(tmp_path)  # the demo's own journal is new; the directory is not
    try:
        assert not demo.fresh
        prep = demo.prepare_market()
        assert prep.seeded == "" and "has no daily bars" in prep.error
        assert demo.store.symbols("1d") == []
    finally:
        demo.stop()


def test_credentials_are_masked_in_text_and_log_records(tmp_path: Path) -> None:
    uri = "s3://s3.example.com:bucket?access=AKIAEXAMPLE&secret=wJalrXUtnFEMI&port=9000"
    assert redact(uri) == "s3://s3.example.com:bucket?access=***&secret=***&port=9000"
    assert redact("https://trader:hunter2@host/x") == "https://trader:***@host/x"
    assert redact("nothing to hide here") == "nothing to hide here"
    handler_path = tmp_path / "log.txt"
    handler = logging.FileHandler(handler_path)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("quantdesk.test_redact")
    logger.addHandler(handler)
    try:
        logger.error("cannot open the ArcticDB store %s: timeout", uri)
        try:
            raise RuntimeError(f"connect failed for {uri}")
        except RuntimeError:
            logger.exception("store")
    finally:
        logger.removeHandler(handler)
        handler.close()
    text = handler_path.read_text()
    assert "wJalrXUtnFEMI" not in text and "AKIAEXAMPLE" not in text
    assert text.count("secret=***") == 2


@pytest.mark.parametrize("text", ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\tx"])
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(text: str) -> None:
    assert cell(text) == "'" + text
    assert cell("HALTED") == "HALTED" and cell('{"a": 1}') == '{"a": 1}'


@pytest.mark.parametrize(
    "saved",
    [
        '{"state": "halted", "reason": "typed by hand", "at": "2026-12-01T10:00:00"}',
        '{"reason": "no state", "at": "2026-12-01T10:00:00"}',
        '{"state": "ACTIVE", "at": "yesterday"}',
        "not json",
    ],
)
def test_a_persisted_state_quantdesk_cannot_read_fails_safe_as_halted(
    tmp_path: Path, saved: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    from services.bus import Bus
    from services.trading.control import TradingControl

    path = tmp_path / "journal.sqlite3"
    Journal(path).close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO state VALUES ('trading_state', ?, '2026-12-01')", (saved,))
    journal = Journal(path)
    control = TradingControl(journal, Bus())
    assert control.state is TradingState.HALTED
    assert "cannot be read" in control.reason and "re-arm" in control.reason
    journal.close()
    assert main(["state", "--json", "--data-dir", str(tmp_path)]) == 0
    assert '"state": "HALTED"' in capsys.readouterr().out


def test_a_session_whose_journal_filled_comes_back_halted_and_says_so(tmp_path: Path) -> None:
    """The HALT of a journal that cannot be written is not persisted; once space is free
    again, the next start comes up HALTED and journals why (it came up ACTIVE, silent)."""
    svc = make_services(tmp_path)
    svc.start()
    try:
        assert svc.bus.wait_idle()
        _fill_the_disk(svc)
        with pytest.raises(JournalError):  # the next page does not fit
            svc.journal.record("note", "big", {"pad": "y" * 100_000})
        assert svc.control.journal_error and svc.control.state is TradingState.HALTED
    finally:
        svc.stop()
    saved = Journal(tmp_path / "journal.sqlite3", readonly=True)
    assert saved.trading_state() is None  # what was persisted: nothing about the halt
    saved.close()
    again = make_services(tmp_path)  # space freed (a new connection has no page limit)
    try:
        assert again.control.state is TradingState.HALTED
        assert "a journal write failed in an earlier session" in again.control.reason
        assert "database or disk is full" in again.control.reason
        (entry,) = again.journal.entries("state")
        assert entry["ref"] == "HALTED"
        assert not (tmp_path / "journal.sqlite3.write-failed").exists()  # recorded: gone
    finally:
        again.stop()


def test_log_lines_on_a_full_disk_write_nothing_to_the_terminal(tmp_path: Path) -> None:
    """A log file that cannot be written (a full disk: here a file size limit, the same
    error to the process) prints no '--- Logging error ---' traceback on the console's
    terminal: the failures are counted."""
    code = (
        "import logging, resource, signal\n"
        "from pathlib import Path\n"
        "from services.ops.logs import setup_file_logging\n"
        f"setup_file_logging(Path({str(tmp_path)!r}))\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "log = logging.getLogger('quantdesk.t')\n"
        "for i in range(20): log.warning('line %d %s', i, 'x' * 1000)\n"
        "handler = logging.getLogger().handlers[0]\n"
        "print(handler.failures)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Logging error" not in done.stderr and done.stderr.strip() == ""
    assert int(done.stdout) > 0  # it did fail
