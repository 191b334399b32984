"""quantdesk backup / restore: consistent while trading, verified, retained, and a
failure (a damaged backup, a write that fails mid-way) leaves nothing half-done."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from console.cli import main
from services.accounting.costs import CostConfig
from services.data.sync import DataConfig
from services.events import OrderIntent
from services.ops.backup import COPIER, take_backup
from services.ops.datadir import DataDirLock
from services.ops.manifest import BackupError, list_backups, verify
from services.ops.restore import restore_backup
from services.ops.scheduler import JobsConfig
from services.runtime import AccountConfig, build_services
from services.venues.simulator import SimConfig
from tests.conftest import copy_data_dir, make_services

SHOW = [sys.executable, "-m", "console.cli", "data", "show", "600519.SSE", "--format", "csv"]


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def data_dir(tmp_path: Path, demo_store: Path) -> Path:
    data = copy_data_dir(demo_store, tmp_path / "data")
    (data / "watchlist.json").write_text('["600519.SSE", "000001.SZSE"]', encoding="utf-8")
    (data / "config.toml").write_text("[risk]\nmax_order_qty = 5000\n", encoding="utf-8")
    return data


def _trade(data: Path, stop: threading.Event, started: threading.Event) -> None:
    """The demo console's order path at work: marketable orders, filled as the market
    steps, until ``stop``."""
    services = make_services(data)  # the demo's, paused: the loop moves the market
    services.start()
    n = 0
    try:
        while not stop.is_set():
            tick = services.market.get("000001.SZSE")
            if tick is not None:
                side = "buy" if n % 3 != 2 else "sell"
                price = tick.ask_price_1 if side == "buy" else tick.bid_price_1
                services.orders.submit(
                    OrderIntent(f"b-{n}", "000001.SZSE", side, "limit", 100, price)
                )
                n += 1
            services.gateway.advance(20)  # type: ignore[union-attr]
            if n == 20:
                started.set()
    finally:
        services.stop()


def test_a_backup_taken_while_trading_restores_to_the_state_at_its_moment(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stop, started = threading.Event(), threading.Event()
    trader = threading.Thread(target=_trade, args=(data_dir, stop, started))
    trader.start()
    try:
        assert started.wait(30), "the trading thread never got going"
        result = take_backup(data_dir, tmp_path / "backups", config_file=data_dir / "config.toml")
        after = (
            sqlite3.connect(data_dir / "journal.sqlite3")
            .execute("SELECT MAX(seq) FROM entries")
            .fetchone()[0]
        )
    finally:
        stop.set()
        trader.join(30)
    taken = result.journals["data/journal.sqlite3"]
    assert 0 < taken <= after  # a snapshot at one commit, while orders kept coming
    assert verify(result.path)[1] == []
    # What the backup holds is exactly the journal's first ``taken`` entries ...
    original = sqlite3.connect(data_dir / "journal.sqlite3")
    copy = sqlite3.connect(result.path / "data/journal.sqlite3")
    query = "SELECT seq, at, kind, ref, payload FROM entries ORDER BY seq"
    assert copy.execute(query).fetchall() == original.execute(query).fetchall()[:taken]
    # ... so the restored account is the account as of that entry.
    restored = tmp_path / "restored"
    code, _, err = _cli(capsys, "restore", str(result.path), "--data-dir", str(restored))
    assert code == 0, err
    as_of = tmp_path / "as-of"
    as_of.mkdir()
    shutil.copy(data_dir / "journal.sqlite3", as_of / "journal.sqlite3")
    db = sqlite3.connect(as_of / "journal.sqlite3")
    with db:  # the journal as of ``taken``; closed, so the edit is in the file itself
        db.execute("DELETE FROM entries WHERE seq > ?", (taken,))
    db.close()
    states = []
    for folder in (restored, as_of):
        code, out, err = _cli(capsys, "state", "--json", "--data-dir", str(folder))
        assert code == 0, err
        states.append(json.loads(out))
    assert states[0] == states[1]
    assert states[0]["fills"] > 0
    # The store, the watchlist and the config came back too.
    assert (restored / "watchlist.json").read_text() == (data_dir / "watchlist.json").read_text()
    assert (restored / "config.toml").read_text() == (data_dir / "config.toml").read_text()
    shown = [
        subprocess.run(
            [*SHOW, "--data-dir", str(folder)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for folder in (data_dir, restored)
    ]
    assert shown[0].count("\n") > 2000 and shown[1] == shown[0]


def test_a_damaged_backup_is_caught_and_nothing_is_restored(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = take_backup(data_dir, tmp_path / "backups")
    store_file = next(f.path for f in result.files if f.path.startswith("store/bars_1d"))
    with (result.path / store_file).open("r+b") as f:  # one byte flipped
        f.seek(5000)
        byte = f.read(1)
        f.seek(5000)
        f.write(bytes([byte[0] ^ 0xFF]))
    (result.path / "stray.txt").write_text("x")
    code, out, _ = _cli(capsys, "restore", str(result.path), "--check", "--data-dir", "/nowhere")
    assert code == 3
    assert f"DAMAGED {store_file}: its checksum differs" in out
    assert "DAMAGED stray.txt: not in the manifest" in out
    target = tmp_path / "restored"
    code, _, err = _cli(capsys, "restore", str(result.path), "--data-dir", str(target))
    assert code == 1 and "fails verification, nothing was restored" in err
    assert not target.exists() or list(target.iterdir()) == []  # nothing written
    (result.path / "manifest.json").unlink()
    assert "has no manifest.json" in verify(result.path)[1][0]


def test_restore_never_overwrites_data_or_a_running_console(data_dir: Path, tmp_path: Path) -> None:
    result = take_backup(data_dir, tmp_path / "backups")
    target = tmp_path / "target"
    target.mkdir()
    (target / "journal.sqlite3").write_text("the account of today")
    with pytest.raises(BackupError, match=r"is not empty .*--force"):
        restore_backup(result.path, target)
    lock = DataDirLock(target).acquire()  # a quantdesk running there
    try:
        with pytest.raises(BackupError, match="stop it before restoring"):
            restore_backup(result.path, target, force=True)
    finally:
        lock.release()
    done = restore_backup(result.path, target, force=True, now=lambda: datetime(2026, 1, 2))
    assert done.moved_aside == tmp_path / "target.before-restore-20260102-000000"
    assert (done.moved_aside / "journal.sqlite3").read_text() == "the account of today"
    assert (target / "arctic" / "bars_1d" / "data.mdb").is_file()


def test_only_the_newest_backups_are_kept(data_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "backups"
    at = datetime(2026, 11, 20, 18)
    names = []
    for day in range(4):
        when = at + timedelta(days=day)
        names.append(take_backup(data_dir, root, keep=2, now=lambda w=when: w).path.name)
    assert [b.path.name for b in list_backups(root)] == names[-2:]


def _limit_file_size() -> None:
    """In the child: writes past 1 MB fail (as on a full disk), without the signal."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))


def test_a_backup_that_cannot_be_written_leaves_nothing_behind(
    data_dir: Path, tmp_path: Path
) -> None:
    root = tmp_path / "backups"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "console.cli",
            "backup",
            "--data-dir",
            str(data_dir),
            "--to",
            str(root),
        ],
        capture_output=True,
        text=True,
        preexec_fn=_limit_file_size,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "the partial copy was removed" in done.stderr or "cannot copy the store" in done.stderr
    assert list(root.iterdir()) == []  # no backup, no .partial
    with pytest.raises(BackupError):
        take_backup(data_dir, Path("/proc/no-such-place"))


def test_the_backup_command_lists_what_it_kept(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "b"
    code, out, err = _cli(
        capsys, "backup", "--data-dir", str(data_dir), "--to", str(root), "--json"
    )
    assert code == 0, err
    report = json.loads(out)
    assert Path(report["path"]).parent == root and report["bytes"] > 1_000_000
    assert {f["kind"] for f in report["files"]} == {"lmdb", "file", "config"}
    code, out, _ = _cli(capsys, "backup", "--list", "--data-dir", str(data_dir), "--to", str(root))
    assert code == 0 and out.strip() == report["path"]


def test_the_nightly_backup_job_runs_in_the_console(data_dir: Path, tmp_path: Path) -> None:
    from services.ops.backup import BackupConfig

    services = build_services(
        data_dir,
        sim=SimConfig(),
        costs=CostConfig(),
        account=AccountConfig(),
        paced=False,
        data=DataConfig(source="demo"),
        jobs=JobsConfig(daily_sync="", backup="0 18 * * mon-fri", daily_summary=""),
        backup=BackupConfig(dir=str(tmp_path / "nightly"), keep=1),
        config_file=data_dir / "config.toml",
    )
    try:
        (job,) = services.scheduler.states()
        assert job.name == "backup" and job.schedule.startswith("0 18 * * mon-fri")
        services.bus.start()
        assert services.scheduler.run_now("backup")
        deadline = datetime.now() + timedelta(seconds=60)
        while job.last_state in ("", "running") or job.running:
            assert datetime.now() < deadline, job
            threading.Event().wait(0.05)
        assert job.last_state == "ok", job.last_detail
        (found,) = list_backups(tmp_path / "nightly")
        backup = found.path
        assert job.last_detail.startswith(backup.name)
        assert verify(backup)[1] == []
        assert (backup / "config" / "config.toml").is_file()
    finally:
        services.stop()


def test_a_journal_written_without_pause_is_still_backed_up(tmp_path: Path) -> None:
    """Under steady commits by the journal's own connection, a step-wise SQLite backup
    restarts at every commit and never ends; the backup reads one snapshot instead."""
    from services.records.journal import Journal

    data = tmp_path / "data"
    data.mkdir()
    journal = Journal(data / "journal.sqlite3")
    for i in range(20_000):  # ~5 MB: many pages to copy
        journal.record("note", f"n{i}", {"pad": "x" * 200})
    stop = threading.Event()

    def write() -> None:
        i = 0
        while not stop.is_set():
            journal.record("note", f"w{i}", {"pad": "y" * 200})
            i += 1

    writer = threading.Thread(target=write)
    writer.start()
    done: list[object] = []
    backup = threading.Thread(target=lambda: done.append(take_backup(data, tmp_path / "b")))
    try:
        backup.start()
        backup.join(120)
    finally:
        stop.set()
        writer.join()
        journal.close()
    assert not backup.is_alive(), "the backup never finished while the journal was written"
    (result,) = done
    assert isinstance(result.journals["data/journal.sqlite3"], int)  # type: ignore[attr-defined]
    assert result.journals["data/journal.sqlite3"] >= 20_000  # type: ignore[attr-defined]


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
def test_the_store_copier_runs_as_background_work(tmp_path: Path) -> None:
    """The store's copy yields a CPU at once to the trading process's threads (an order's
    submit waited behind it for a time slice); its copy is whole and its hash right."""
    import hashlib

    import lmdb

    src = tmp_path / "lib"
    env = lmdb.open(str(src), map_size=64 << 20)
    with env.begin(write=True) as txn:
        for i in range(400):
            txn.put(f"k{i:04d}".encode(), os.urandom(4096))
    env.close()
    child = subprocess.Popen(
        [*COPIER, str(src), str(tmp_path / "copy"), "--rate-mb", "2"],  # ~1 s
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        seen = os.sched_getscheduler(child.pid)
        while seen != os.SCHED_IDLE and child.poll() is None:
            seen = os.sched_getscheduler(child.pid)
        assert seen == os.SCHED_IDLE
        assert os.sched_getscheduler(0) != os.SCHED_IDLE  # the test's (trading) process is not
        out, _ = child.communicate(timeout=60)
    finally:
        child.kill()
    copied = json.loads(out)
    data = (tmp_path / "copy" / "data.mdb").read_bytes()
    assert copied == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert copied["bytes"] > 400 * 4096
