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
    assert code == 0 and "1d: 20 symbols, 52880 rows stored" in out
    code, out, _ = run(capsys, tmp_path, "status")
    assert code == 0 and "600519.SSE" in out and "2,644" in out
    code, out, _ = run(capsys, tmp_path, "check", "600519.SSE")
    assert code == 0 and "600519.SSE 1d: 2,644 bars, ok" in out
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


CSV_HEAD = "Date,Open,High,Low,Close,Volume\n"


def test_ambiguous_day_first_dates_are_refused_unless_a_format_is_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "dmy.csv"  # 7, 8 and 9 March 2022 (Mon-Wed), written day first
    path.write_text(
        CSV_HEAD + "07-03-2022,10,11,9,10,100\n08-03-2022,10,11,9,10,100\n"
        "09-03-2022,10,11,9,10,100\n"
    )
    code, out, err = run(capsys, tmp_path / "d", "import", str(path), "--symbol", "X.US")
    assert code == 2 and "'07-03-2022' are ambiguous" in err and "--date-format" in err
    code, out, err = run(capsys, tmp_path / "d", "show", "X.US")
    assert code == 2  # nothing was stored
    code, out, _ = run(
        capsys,
        tmp_path / "d",
        "import",
        str(path),
        "--symbol",
        "X.US",
        "--date-format",
        "%d-%m-%Y",
    )
    assert code == 0, out
    code, out, _ = run(capsys, tmp_path / "d", "show", "X.US", "--format", "csv")
    shown = pd.read_csv(io.StringIO(out), parse_dates=["date"])
    assert [d.strftime("%a %d %b") for d in shown["date"]] == [
        "Mon 07 Mar",
        "Tue 08 Mar",
        "Wed 09 Mar",
    ]


def test_a_file_that_settles_the_order_is_read_day_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "dmy.csv"
    path.write_text(CSV_HEAD + "09-03-2022,10,11,9,10,100\n14-03-2022,10,11,9,10,100\n")
    code, out, _ = run(capsys, tmp_path / "d", "import", str(path), "--symbol", "X.US")
    assert code == 0 and "2 stored" in out
    code, out, _ = run(capsys, tmp_path / "d", "show", "X.US", "--format", "csv")
    assert out.splitlines()[1:] == [
        "2022-03-09,10.0,11.0,9.0,10.0,100",
        "2022-03-14,10.0,11.0,9.0,10.0,100",
    ]


def test_non_finite_and_absurd_values_are_quarantined_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        CSV_HEAD + "2022-03-07,10,11,9,10,100\n"
        "2022-03-08,10,inf,9,10,100\n"
        "2022-03-09,10,1e308,9,10,100\n"
        "2022-03-10,10,11,9,10,\n"
        "2022-03-11,10,11,9,10,nan\n"
        "2022-03-14,10,11,9,10,100\n"
    )
    code, out, _ = run(capsys, tmp_path / "d", "import", str(path), "--symbol", "X.US")
    assert code == 3
    assert "price_nonfinite 1" in out and "price_absurd 1" in out and "volume_nan 2" in out
    code, out, _ = run(capsys, tmp_path / "d", "check", "X.US")
    assert code == 0
    code, out, _ = run(capsys, tmp_path / "d", "show", "X.US", "--format", "csv")
    assert len(out.splitlines()) == 3  # the header and the two good rows


def test_show_says_how_many_rows_it_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, tmp_path, "import", str(REAL / "orcl-1995-2014.txt"), "--symbol", "ORCL.US")
    code, out, _ = run(capsys, tmp_path, "show", "ORCL.US", "--tail", "5")
    assert code == 0 and "5,036 bars, the last 5 shown (5,031 earlier left out" in out


@pytest.mark.parametrize(
    "symbol",
    ["[/]X.US", "[bold red]FAKE[/bold red].US", "A<B.US", "a\nb.US", "\x1b[31mX.US", "茅台.SSE"],
)
def test_a_symbol_that_cannot_be_shown_or_stored_is_refused_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], symbol: str
) -> None:
    code, out, err = run(
        capsys, tmp_path, "import", str(REAL / "nvda-1999-2014.txt"), "--symbol", symbol
    )
    assert code == 2 and "is not a code quantdesk can store" in err, err
    assert "Traceback" not in err
    code, out, _ = run(capsys, tmp_path, "status")
    assert code == 0 and "the store is empty" in out


def test_a_symbol_an_older_version_stored_is_listed_as_stored_and_can_be_deleted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Stored before symbols were checked: shown as it is (never read as markup), and
    ``data delete`` still removes it."""
    from services.store import Store

    assert (
        run(capsys, tmp_path, "import", str(REAL / "nvda-1999-2014.txt"), "--symbol", "N.US")[0]
        == 0
    )
    store = Store.of(tmp_path)
    store.open()
    lib = store.library("bars_1d")
    bad = "[bold red]FAKE[/bold red].US"
    lib.write(bad, lib.read("N.US").data, metadata=lib.read_metadata("N.US").metadata)
    del store, lib
    code, out, _ = run(capsys, tmp_path, "status")
    assert code == 0 and "[bold red]FAKE[/bold red].US" in out.replace("\n", "")
    code, out, err = run(capsys, tmp_path, "delete", bad)
    assert code == 0, err
    code, out, _ = run(capsys, tmp_path, "status")
    assert "FAKE" not in out
