"""CSV cells are read exactly or refused, with the lines named: one date format per file,
fields of any size, times with a UTC offset, a NUL inside a price, and bars spaced as the
frequency claims -- each was a wrong store or a traceback before."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from console.cli import main


def run(capsys: pytest.CaptureFixture[str], data: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--data-dir", str(data), "data", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write(path: Path, rows: list[str], header: str = "Date,Open,High,Low,Close,Volume") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def bar(stamp: str, price: str = "10.5") -> str:
    return f"{stamp},10,100,9,{price},1000"


def stored(capsys: pytest.CaptureFixture[str], data: Path, symbol: str, freq: str) -> str:
    code, out, _ = run(capsys, data, "show", symbol, "--freq", freq, "--format", "csv")
    return out if code == 0 else ""


def test_dates_in_two_formats_are_refused_with_the_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [bar("2022-01-03")] + [bar(f"{d:02d}-01-2022") for d in range(4, 10)]
    code, _, err = run(
        capsys, tmp_path, "import", str(write(tmp_path / "m.csv", rows)), "--symbol", "M.US"
    )
    assert code == 2
    assert "line 2: '2022-01-03' (year first); line 3: '04-01-2022' (day/month)" in err
    assert stored(capsys, tmp_path, "M.US", "1d") == ""  # nothing was stored
    code, out, _ = run(
        capsys,
        tmp_path,
        "import",
        str(tmp_path / "m.csv"),
        "--symbol",
        "M.US",
        "--date-format",
        "%d-%m-%Y",
    )
    assert code == 3 and "6 stored" in out  # the format given: the ISO row is the odd one


@pytest.mark.parametrize("quoted", [False, True])
def test_a_field_of_200000_characters_is_one_line_quarantined(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], quoted: bool
) -> None:
    huge = "9" * 200_000
    rows = [
        bar("2022-01-03"),
        bar("2022-01-04", f'"{huge}"' if quoted else huge),
        bar("2022-01-05"),
    ]
    code, out, err = run(
        capsys, tmp_path, "import", str(write(tmp_path / "h.csv", rows)), "--symbol", "H.US"
    )
    assert code == 3, err
    assert "2 stored" in out and "Traceback" not in err


@pytest.mark.parametrize(
    ("stamp", "wall"),
    [
        ("2022-01-04T09:31:00+08:00", "09:31"),
        ("2022-01-04T01:31:00Z", "09:31"),
        ("2022-01-04 09:31:00+0800", "09:31"),
    ],
)
def test_times_with_an_offset_are_stored_at_the_markets_wall_clock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stamp: str, wall: str
) -> None:
    later = pd.Timestamp(stamp) + pd.Timedelta(minutes=1)
    rows = [bar(stamp), bar(later.isoformat())]
    path = write(tmp_path / "t.csv", rows, "Datetime,Open,High,Low,Close,Volume")
    code, _, err = run(
        capsys, tmp_path, "import", str(path), "--symbol", "600000.SSE", "--freq", "1m"
    )
    assert code == 0, err
    assert f"2022-01-04 {wall}:00" in stored(capsys, tmp_path, "600000.SSE", "1m")


def test_offsets_on_some_rows_only_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [bar("2022-01-04 09:31:00+08:00"), bar("2022-01-04 09:32:00")]
    path = write(tmp_path / "t.csv", rows, "Datetime,Open,High,Low,Close,Volume")
    code, _, err = run(
        capsys, tmp_path, "import", str(path), "--symbol", "600000.SSE", "--freq", "1m"
    )
    assert code == 2 and "some times carry a UTC offset and some do not (line 2" in err


def test_a_nul_inside_a_price_is_never_read_as_a_shorter_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [bar("2022-01-03", "99\x00.50"), bar("2022-01-04", "99.5")]
    code, out, _ = run(
        capsys, tmp_path, "import", str(write(tmp_path / "n.csv", rows)), "--symbol", "N.US"
    )
    assert code == 3 and "1 stored" in out
    shown = stored(capsys, tmp_path, "N.US", "1d")
    assert "2022-01-03" not in shown and ",99.0," not in shown


def test_bars_must_be_spaced_as_the_frequency_claims(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    days = pd.bdate_range("2022-01-03", periods=20).strftime("%Y-%m-%d")
    daily = write(tmp_path / "d.csv", [bar(d) for d in days])
    code, _, err = run(capsys, tmp_path, "import", str(daily), "--symbol", "D.US", "--freq", "1m")
    assert code == 2 and "every row is at midnight, one a day: daily bars" in err
    minutes = pd.date_range("2022-01-03 09:31", periods=240, freq="min")
    minute = write(
        tmp_path / "m.csv",
        [bar(m) for m in minutes.strftime("%Y-%m-%d %H:%M:%S")],
        "Datetime,Open,High,Low,Close,Volume",
    )
    code, _, err = run(capsys, tmp_path, "import", str(minute), "--symbol", "D.US")
    assert code == 2 and "the rows are 240 a day on average" in err and "--freq 1m" in err
    assert stored(capsys, tmp_path, "D.US", "1d") == stored(capsys, tmp_path, "D.US", "1m") == ""
