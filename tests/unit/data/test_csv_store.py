"""CSV import and the store: real files round-trip, re-imports add nothing, bad rows quarantined."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from services.data.csvio import ImportError_, parse_mapping, read_csv
from services.store import Store, StoreError
from tests.unit.data.conftest import REAL

FILES = [
    ("orcl-1995-2014.txt", "ORCL.US", "1d", "yahoo", 5036),
    ("nvda-1999-2014.txt", "NVDA.US", "1d", "yahoo", 4012),
    ("yhoo-1996-2014.txt", "YHOO.US", "1d", "yahoo", 4713),
    ("2006-01-02-volume-min-001.txt", "FDAX.EUREX", "1m", "minute", 30889),
    ("2006-min-005.txt", "FDAX5.EUREX", "1m", "minute", 2142),
]


@pytest.mark.parametrize(("name", "symbol", "freq", "layout", "rows"), FILES)
def test_real_files_round_trip_identically(
    store: Store, name: str, symbol: str, freq: str, layout: str, rows: int
) -> None:
    parsed = read_csv(REAL / name)
    assert parsed.layout == layout and len(parsed.bars) == rows and parsed.rejects.empty
    result = store.write_bars(
        symbol, freq, parsed.bars, source=f"csv:{name}", factors=parsed.factors or None
    )
    assert (result.stored, result.quarantined) == (rows, 0)
    back = store.read_bars(symbol, freq)
    pd.testing.assert_frame_equal(back, parsed.bars, check_freq=False)
    raw = pd.read_csv(REAL / name)
    assert back["close"].iloc[0] == float(raw["Close"].iloc[0])  # values as in the file
    meta = store.meta(symbol, freq)
    assert meta is not None and meta.rows == rows and meta.source == f"csv:{name}"


def test_yahoo_qfq_matches_adj_close_up_to_one_constant(store: Store) -> None:
    parsed = read_csv(REAL / "orcl-1995-2014.txt")
    assert len(parsed.factors) > 10  # quarterly dividends since 2009
    store.write_bars("ORCL.US", "1d", parsed.bars, source="csv", factors=parsed.factors)
    qfq = store.read_bars("ORCL.US", "1d", how="qfq")["close"].to_numpy()
    adj = pd.read_csv(REAL / "orcl-1995-2014.txt")["Adj Close"].to_numpy()
    ratio = adj / qfq
    assert ratio.max() / ratio.min() - 1 < 5e-4  # only rounding of the file's 6 decimals


def test_importing_the_same_file_twice_stores_nothing_new(store: Store) -> None:
    parsed = read_csv(REAL / "nvda-1999-2014.txt")
    store.write_bars("NVDA.US", "1d", parsed.bars, source="csv")
    again = store.write_bars("NVDA.US", "1d", parsed.bars, source="csv")
    assert (again.stored, again.unchanged, again.quarantined) == (0, 4012, 0)
    assert store.meta("NVDA.US", "1d").rows == 4012  # type: ignore[union-attr]


def test_new_rows_inside_the_stored_range_are_merged_in_one_version(store: Store) -> None:
    parsed = read_csv(REAL / "orcl-1995-2014.txt").bars
    odd, even = parsed.iloc[::2], parsed.iloc[1::2]
    store.write_bars("ORCL.US", "1d", odd, source="csv")
    result = store.write_bars("ORCL.US", "1d", even, source="csv")
    assert result.stored == len(even)
    pd.testing.assert_frame_equal(store.read_bars("ORCL.US", "1d"), parsed, check_freq=False)
    assert store.meta("ORCL.US", "1d").rows == len(parsed)  # type: ignore[union-attr]


def test_a_conflicting_row_is_quarantined_with_its_reason(store: Store) -> None:
    parsed = read_csv(REAL / "yhoo-1996-2014.txt").bars
    store.write_bars("YHOO.US", "1d", parsed, source="csv")
    changed = parsed.iloc[[10]].copy()
    changed["close"] = changed["close"] * 1.01
    result = store.write_bars("YHOO.US", "1d", changed, source="csv")
    assert (result.stored, result.quarantined) == (0, 1)
    quarantine = store.quarantined("YHOO.US", "1d")
    assert list(quarantine["rule"]) == ["duplicate"]
    assert store.meta("YHOO.US", "1d").issues == {"duplicate": 1}  # type: ignore[union-attr]
    # the stored value is untouched
    assert store.read_bars("YHOO.US", "1d")["close"].iloc[10] == parsed["close"].iloc[10]


def test_bad_lines_go_to_quarantine_and_the_rest_is_stored(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "Date,Open,High,Low,Close,Adj Close,Volume\n"
        "2020-01-02,10,11,9,10.5,10.5,100\n"
        "2020-01-03,10,11,9\n"  # too few fields
        "not-a-date,10,11,9,10.5,10.5,100\n"
        "2020-01-06,10,9,11,10.5,10.5,100\n"  # high < low
        "2020-01-07,10,11,9,abc,10.5,100\n",  # not a number
        encoding="utf-8",
    )
    parsed = read_csv(path)
    assert list(parsed.rejects["line"]) == [3, 4]
    assert "expected 7" in parsed.rejects["reason"].iloc[0]
    assert parsed.rejects["reason"].iloc[1] == "timestamp is not a date/time"
    result = store.write_bars("BAD.US", "1d", parsed.bars, source="csv", rejects=parsed.rejects)
    assert result.stored == 1 and result.quarantined == 4
    assert sorted(store.quarantined("BAD.US", "1d")["rule"]) == [
        "ohlc",
        "price_nan",
        "unreadable",
        "unreadable",
    ]
    assert "4 quarantined" not in result.summary() or "unreadable" in result.summary()


def test_akshare_csv_with_chinese_headers_and_lots(tmp_path: Path) -> None:
    path = tmp_path / "600519.csv"
    path.write_text(
        "日期,股票代码,开盘,收盘,最高,最低,成交量,成交额,振幅,涨跌幅,涨跌额,换手率\n"
        "2024-01-02,600519,1715.00,1685.01,1718.19,1678.10,32156,5.45E9,2.34,-1.74,-29.99,0.26\n"
        "2024-01-03,600519,1681.11,1694.00,1695.22,1676.33,20211,3.41E9,1.12,0.53,8.99,0.16\n",
        encoding="utf-8",
    )
    parsed = read_csv(path, a_share=True)
    assert parsed.layout == "akshare"
    assert parsed.bars["volume"].tolist() == [3_215_600.0, 2_021_100.0]  # lots -> shares
    assert parsed.bars["close"].tolist() == [1685.01, 1694.00]
    assert parsed.bars["amount"].iloc[0] == 5.45e9


def test_explicit_mapping_and_unrecognised_headers(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("ts;x\n", encoding="utf-8")
    path.write_text("when,o,h,l,c,v\n2020-01-02 09:31,1,2,0.5,1.5,10\n", encoding="utf-8")
    with pytest.raises(ImportError_, match="unrecognised columns"):
        read_csv(path)
    parsed = read_csv(path, parse_mapping("datetime=when,open=o,high=h,low=l,close=c,volume=v"))
    assert parsed.bars["close"].tolist() == [1.5]
    with pytest.raises(ImportError_, match="bad --map entry"):
        parse_mapping("price=c")
    with pytest.raises(ImportError_, match="not in the file"):
        read_csv(path, parse_mapping("datetime=missing,open=o,high=h,low=l,close=c"))


def test_reading_a_symbol_that_is_not_there_says_what_to_do(store: Store) -> None:
    with pytest.raises(StoreError, match="sync or import first"):
        store.read_bars("600519.SSE", "1d")


def test_date_range_reads(store: Store) -> None:
    parsed = read_csv(REAL / "orcl-1995-2014.txt").bars
    store.write_bars("ORCL.US", "1d", parsed, source="csv")
    part = store.read_bars("ORCL.US", "1d", pd.Timestamp("2014-12-01"), pd.Timestamp("2014-12-31"))
    assert part.index.min() >= pd.Timestamp("2014-12-01") and len(part) == 22


def test_clean_and_messy_chunks_read_the_same(tmp_path: Path) -> None:
    """The C parser reads clean chunks, Python's csv module the others: a file whose
    chunks are mixed gives the same bars and rejects as reading it all row by row."""
    rows = [f"2020-01-{d:02d},10,11,9,10.5,10.5,{100 + d}" for d in range(1, 29)]
    rows[5] = "2020-01-06,10,11,9"  # too few fields: chunk 2 goes row by row
    rows[17] = " 2020-01-18 , 10 ,11,9,10.5,10.5,118 "  # blanks around fields
    path = tmp_path / "mixed.csv"
    path.write_text("Date,Open,High,Low,Close,Adj Close,Volume\n" + "\n".join(rows) + "\n")
    chunked = read_csv(path, chunk_lines=4)
    whole = read_csv(path, chunk_lines=10_000)
    pd.testing.assert_frame_equal(chunked.bars, whole.bars)
    assert list(chunked.rejects["line"]) == list(whole.rejects["line"]) == [7]
    assert len(chunked.bars) == 27 and chunked.bars["volume"].iloc[16] == 118
