"""Batched writes (the sync's path) store exactly what one-by-one writes store."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from services.data.records import Incoming
from services.data.sources.demo import DemoSource
from services.data.sync import DataConfig, Syncer
from services.store import Store

UNIVERSE = ["600519.SSE", "000858.SZSE", "600036.SSE", "000001.SZSE"]
FIELDS = ("source", "first", "last", "rows", "factors", "gaps", "issues", "last_close")


def _open(path: Path) -> Store:
    store = Store.of(path)
    store.open()
    return store


def test_a_batched_sync_stores_what_one_by_one_writes_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Batches of 3 rows for 4 symbols: the new day's second batch fills in the block's last
    # date.
    monkeypatch.setattr("services.data.sync.WRITE_ROWS", 3)
    source = DemoSource(date(2026, 11, 24))
    batched, single = _open(tmp_path / "a"), _open(tmp_path / "b")
    for end in (date(2026, 11, 20), date(2026, 11, 23)):  # a first sync, then one new day
        Syncer(batched, source, DataConfig()).sync(UNIVERSE, "1d", end=end)
        for symbol in UNIVERSE:  # the reference: write_bars, symbol by symbol
            meta = single.meta(symbol, "1d")
            begin = (
                pd.Timestamp(meta.last).date() + pd.Timedelta(days=1) if meta else date(2016, 1, 1)
            )
            single.write_calendar(source.calendar())
            bars = source.bars(symbol, "1d", begin, end)
            single.write_bars(symbol, "1d", bars, source="demo", factors=source.factors(symbol))
    for symbol in UNIVERSE:
        pd.testing.assert_frame_equal(
            batched.read_bars(symbol, "1d", how="qfq"), single.read_bars(symbol, "1d", how="qfq")
        )
        a, b = batched.meta(symbol, "1d"), single.meta(symbol, "1d")
        assert a is not None and b is not None
        assert {f: getattr(a, f) for f in FIELDS} == {f: getattr(b, f) for f in FIELDS}
    # The new day went into the panel block as one append: nothing is left to rebuild, and a
    # universe read equals each symbol's own.
    assert batched.panels.stale() == []
    closes = batched.read_panel(UNIVERSE, ("close",), "qfq")["close"]
    for symbol in UNIVERSE:
        own = batched.read_bars(symbol, "1d", how="qfq")["close"]
        pd.testing.assert_series_equal(closes[symbol].dropna(), own, check_names=False)


def _bar(day: str, close: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "open": [close],
            "high": [close + 0.1],
            "low": [close - 0.1],
            "close": [close],
            "volume": [1000.0],
            "amount": [close * 1000],
        },
        index=pd.DatetimeIndex([day], name="datetime"),
    )


def test_one_bad_row_is_quarantined_and_overlaps_take_the_general_path(tmp_path: Path) -> None:
    store = _open(tmp_path)
    first = [
        Incoming("600000.SSE", pd.concat([_bar("2026-11-19", 10.0), _bar("2026-11-20", 10.1)])),
        Incoming("600001.SSE", _bar("2026-11-20", 5.0)),
    ]
    store.write_many("1d", first, source="t")
    store.read_panel(["600000.SSE"])  # the block is built
    bad = _bar("2026-11-23", 10.2)
    bad.loc[:, "high"] = 9.0  # high below the close: the ohlc rule
    results = store.write_many(
        "1d",
        [
            Incoming("600000.SSE", bad),
            Incoming("600001.SSE", _bar("2026-11-20", 5.5)),  # a stored day, different
        ],
        source="t",
    )
    assert results[0].stored == 0 and results[0].quarantined == 1
    assert store.quarantined("600000.SSE", "1d")["rule"].tolist() == ["ohlc"]
    # As write_bars does: a different row for a stored day is a duplicate, never a silent
    # overwrite.
    assert results[1].quarantined == 1
    assert store.quarantined("600001.SSE", "1d")["rule"].tolist() == ["duplicate"]
    assert store.read_bars("600001.SSE", "1d")["close"].tolist() == [5.0]
    assert store.panels.stale() == ["600001.SSE"]  # the general path: rebuilt on read
    panel = store.read_panel(["600000.SSE", "600001.SSE"], ("close",))["close"]
    assert store.panels.stale() == []
    assert panel.loc["2026-11-20", "600001.SSE"] == pytest.approx(5.0)
    assert not np.isnan(panel.loc["2026-11-19", "600000.SSE"])
