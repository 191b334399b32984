"""Every file quantdesk owns, damaged: the saved runs, the alert outbox, the ArcticDB store
and journal entries it cannot read. Each is an error naming the file and what to do, or
(entries) fails safe as HALTED -- never a traceback, never a rewrite."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

import pytest

from console.cli import main
from services.events import TradingState
from services.records.journal import Journal
from tests.conftest import make_services


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def spoil(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xa5" * (4096 - 100)  # the first page, past the header's magic
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def used(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("used") / "data"
    assert main(["--data-dir", str(data), "data", "demo"]) == 0
    assert (
        main(["--data-dir", str(data), "backtest", "ma_cross", "--symbol", "600519.SSE", "--save"])
        == 0
    )
    return data


@pytest.fixture
def data(used: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(used, copy, ignore=shutil.ignore_patterns("*.lock", "lock.mdb"))
    return copy


def test_damaged_saved_runs_are_named_and_left_as_they_are(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = data / "backtests.db"
    spoil(runs)
    before = digest(runs)
    for argv in (["runs"], ["backtest", "ma_cross", "--symbol", "600519.SSE", "--save"]):
        assert main(["--data-dir", str(data), *argv]) == 2
        err = capsys.readouterr().err
        assert f"the saved runs {runs} cannot be trusted" in err and "mv " in err
        assert "Traceback" not in err
    assert digest(runs) == before
    services = make_services(data)  # the console starts; the backtests screen says why
    try:
        with pytest.raises(ValueError, match="cannot be trusted"):
            services.backtests.runs.list()
    finally:
        services.stop()


def test_a_damaged_outbox_is_named_and_stops_a_start_that_needs_it(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outbox = data / "alerts.sqlite3"
    outbox.write_bytes(os.urandom(8192))
    assert main(["--data-dir", str(data), "alerts", "list"]) == 2
    err = capsys.readouterr().err
    assert f"the alert outbox {outbox} cannot be trusted" in err and "Traceback" not in err
    from console.cli import _open_alerting
    from console.config import parse_config

    config = parse_config({"alerts": {"channels": {"p": {"secret": "alerts.p"}}}}, "test")
    alerting, problem = _open_alerting(config, data)
    assert alerting is None and "the alert outbox" in problem


def test_a_damaged_store_is_one_line_saying_what_to_do(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    library = data / "arctic" / "bars_1d" / "data.mdb"
    raw = bytearray(library.read_bytes())
    for page in range(0, len(raw), 4096):
        raw[page + 100 : page + 200] = os.urandom(100)
    library.write_bytes(bytes(raw))
    for argv in (["data", "status"], ["data", "show", "600519.SSE"]):
        assert main(["--data-dir", str(data), *argv]) == 2
        err = capsys.readouterr().err
        assert "cannot be read or written" in err and "quantdesk restore" in err
        assert "Traceback" not in err


def test_journal_entries_it_cannot_read_fail_safe_as_halted(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    journal.record("intent", "r1", {"not": "an intent"})
    journal.record("fill", "o1", {"vt_symbol": "600519.SSE"})  # no side, volume or price
    journal.close()
    services = make_services(tmp_path)
    try:
        assert services.control.state is TradingState.HALTED
        assert "2 entries quantdesk cannot read" in services.control.reason
        services.control.rearm("ARM")  # checked by the trader
    finally:
        services.stop()
    again = make_services(tmp_path)  # the same entries do not halt every start
    try:
        assert again.control.state is TradingState.ACTIVE
    finally:
        again.stop()


@pytest.mark.skipif(os.getuid() != 0, reason="mounting a small file system needs root")
def test_a_store_on_a_nearly_full_disk_refuses_the_write_instead_of_crashing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 3 MB tmpfs: ArcticDB's LMDB write would crash the process (a segmentation fault:
    see the README's known issues); quantdesk refuses it first, and the process lives."""
    import subprocess

    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(small)], check=True)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "console.cli", "--data-dir", str(small / "dd"), "data", "demo"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 2, done.stderr[-500:]
        assert "MB free; this write needs about" in done.stderr
        assert "nothing was written" in done.stderr and "Traceback" not in done.stderr
    finally:
        subprocess.run(["umount", str(small)], check=True)
