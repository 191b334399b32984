"""``quantdesk data …`` as a user runs it: exit codes, CSV for other tools, status, check."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from console.cli import main
from tests.unit.data.conftest import REAL


def run(capsys: pytest.CaptureFixture[str], data_dir: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--data-dir", str(data_dir), "data", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_import_show_csv_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, tmp_path, "import", str(REAL / "nvda-1999-2014.txt"), "--symbol", "NVDA.US"
    )
    assert code == 0 and "NVDA.US 1d: 4012 stored" in out
    code, out, _ = run(capsys, tmp_path, "show", "NVDA.US", "--format", "csv")
    assert code == 0
    shown = pd.read_csv(io.StringIO(out), index_col="date", parse_dates=True)
    original = pd.read_csv(REAL / "nvda-1999-2014.txt", index_col="Date", parse_dates=True)
    assert list(shown.columns) == ["open", "high", "low", "close", "volume"]
    assert (shown["close"].to_numpy() == original["Close"].to_numpy()).all()
    assert (shown["volume"].to_numpy() == original["Volume"].to_numpy()).all()


def test_minute_file_with_time_after_the_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys,
        tmp_path,
        "import",
        str(REAL / "2006-01-02-volume-min-001.txt"),
        "--symbol",
        "FDAX.EUREX",
        "--freq",
        "1m",
    )
    assert code == 0 and "30889 stored" in out and "time" in out
    code, out, _ = run(
        capsys,
        tmp_path,
        "show",
        "FDAX.EUREX",
        "--freq",
        "1m",
        "--format",
        "csv",
        "--end",
        "2006-01-02",
    )
    assert out.splitlines()[1] == "2006-01-02 09:01:00,3602.0,3603.0,3597.0,3599.0,5699"


def test_quarantined_rows_give_exit_status_3_and_name_the_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "Date,Open,High,Low,Close,Adj Close,Volume\n"
        "2020-01-02,10,11,9,10.5,10.5,100\n2020-01-03,10,9,11,10.5,10.5,100\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, tmp_path, "import", str(bad), "--symbol", "BAD.US")
    assert code == 3
    assert "1 stored; 1 quarantined (ohlc 1)" in out and "quarantined" in err
    code, out, _ = run(capsys, tmp_path, "status")
    assert "BAD.US" in out and "ohlc 1" in out


def test_bad_input_is_a_clear_error_with_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, tmp_path, "import", str(REAL / "orcl-1995-2014.txt"), "--symbol", "ORCL"
    )
    assert code == 2 and "must be CODE.EXCHANGE" in err
    code, _, err = run(capsys, tmp_path, "show", "600519.SSE")
    assert code == 2 and "sync or import first" in err
    code, _, err = run(
        capsys, tmp_path, "import", str(tmp_path / "missing.csv"), "--symbol", "X.US"
    )
    assert code == 2 and "cannot read" in err


def test_demo_then_status_check_and_an_incremental_sync(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, tmp_path, "demo")
    assert code == 0 and "1d: 20 symbols, 56800 rows stored" in out
    code, out, _ = run(capsys, tmp_path, "status")
    assert code == 0 and "600519.SSE" in out and "2,840" in out
    code, out, _ = run(capsys, tmp_path, "check", "600519.SSE")
    assert code == 0 and "600519.SSE 1d: 2,840 bars, ok" in out
    code, out, _ = run(
        capsys,
        tmp_path,
        "sync",
        "--source",
        "demo",
        "--universe",
        "600519,000001",
        "--end",
        "2026-11-20",
    )
    assert code == 0 and "0 rows stored" in out
