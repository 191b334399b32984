"""The daily panel block: universe reads equal the per-symbol record, however written."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from services.data.bars import COLUMNS
from services.store import Store, StoreError

FACTORS = {"600000.SSE": [(date(2024, 1, 10), 1.25)], "000001.SZSE": []}


def _bars(days: pd.DatetimeIndex, base: float) -> pd.DataFrame:
    close = base + np.arange(len(days)) * 0.01
    frame = pd.DataFrame(
        {
            "open": close,
            "high": close + 0.02,
            "low": close - 0.02,
            "close": close,
            "volume": 1000.0 + np.arange(len(days)),
            "amount": close * 1000,
        },
        index=pd.DatetimeIndex(days, name="datetime"),
    )
    return frame


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store.of(tmp_path)
    store.open()
    days = pd.bdate_range("2024-01-02", periods=12)
    # Different ranges: 000001 lists two days later and skips a day (a suspension).
    store.write_bars(
        "600000.SSE", "1d", _bars(days, 10.0), source="t", factors=FACTORS["600000.SSE"]
    )
    store.write_bars("000001.SZSE", "1d", _bars(days[2:].delete(3), 20.0), source="t")
    return store


def _assert_matches_record(store: Store, symbols: list[str], how: str) -> None:
    panel = store.read_panel(symbols, how=how)
    for symbol in symbols:
        record = store.read_bars(symbol, "1d", how=how)
        for field in COLUMNS:
            got = panel[field][symbol].dropna()
            pd.testing.assert_series_equal(
                got, record[field].rename(symbol), check_freq=False, check_names=False
            )


@pytest.mark.parametrize("how", ["none", "qfq", "hfq"])
def test_a_universe_read_equals_each_symbols_own_read(store: Store, how: str) -> None:
    _assert_matches_record(store, ["600000.SSE", "000001.SZSE"], how)
    panel = store.read_panel(["000001.SZSE"], fields=("close",))
    # Only the dates on which the asked symbols traded are rows; the gap stays NaN-free.
    assert len(panel["close"]) == 9 and panel["close"].notna().all().all()


def test_a_window_and_a_field_subset(store: Store) -> None:
    panel = store.read_panel(
        ["600000.SSE"], fields=("close", "volume"), start=date(2024, 1, 10), end=date(2024, 1, 12)
    )
    assert set(panel) == {"close", "volume"}
    assert list(panel["close"].index.date) == [
        date(2024, 1, 10),
        date(2024, 1, 11),
        date(2024, 1, 12),
    ]


def test_a_later_write_is_seen_by_the_next_universe_read(store: Store) -> None:
    store.read_panel(["600000.SSE"])  # built
    more = _bars(pd.bdate_range("2024-01-18", periods=3), 10.5)
    store.write_bars("600000.SSE", "1d", more, source="t")
    assert store.panels.stale() == ["600000.SSE"]
    _assert_matches_record(store, ["600000.SSE", "000001.SZSE"], "qfq")
    assert store.panels.stale() == []


def test_new_days_for_known_symbols_are_one_append(store: Store) -> None:
    store.read_panel(["600000.SSE"])
    lib = store.library("panels_1d")
    versions = len(lib.list_versions("block"))
    day = pd.bdate_range("2024-01-18", periods=1)
    rows = {"600000.SSE": _bars(day, 10.9)}  # 000001 has no bar that day: NaN in the block
    assert store.panels.append(rows, FACTORS) is True
    assert store.panels.stale() == []
    block = store.library("panels_1d").read("block").data
    assert block.index[-1] == day[0]
    assert len(block) % 2 == 0  # still a full row per symbol and date
    panel = store.read_panel(["600000.SSE", "000001.SZSE"], fields=("close",))
    assert panel["close"].loc[day[0], "600000.SSE"] == pytest.approx(10.9)
    assert np.isnan(panel["close"].loc[day[0], "000001.SZSE"])
    assert len(store.library("panels_1d").list_versions("block")) == versions + 1


def test_rows_that_do_not_extend_the_block_leave_the_symbol_for_a_rebuild(store: Store) -> None:
    store.read_panel(["600000.SSE"])
    inside = {"600000.SSE": _bars(pd.bdate_range("2024-01-05", periods=1), 99.0)}
    assert store.panels.append(inside, FACTORS) is False
    assert store.panels.stale() == ["600000.SSE"]
    unknown = {"600004.SSE": _bars(pd.bdate_range("2024-02-01", periods=1), 5.0)}
    assert store.panels.append(unknown, {}) is False
    assert "600004.SSE" in store.panels.stale()


def test_a_write_cut_short_is_repaired_by_the_next_read_not_served(store: Store) -> None:
    store.read_panel(["600000.SSE"])
    # The per-symbol record changes behind the block's back after the stale mark (as if the
    # process died between the two): the next read rebuilds that symbol first.
    store.panels.mark_stale(["600000.SSE"])
    lib = store.library("bars_1d")
    frame = lib.read("600000.SSE").data
    frame["close"] *= 2
    frame["high"] *= 2
    lib.write("600000.SSE", frame, metadata=lib.read_metadata("600000.SSE").metadata)
    _assert_matches_record(store, ["600000.SSE"], "none")


def test_a_store_from_before_the_panels_is_built_on_first_read(tmp_path: Path) -> None:
    store = Store.of(tmp_path)
    store.open()
    lib = store.library("bars_1d")
    lib.write("510300.SSE", _bars(pd.bdate_range("2024-03-01", periods=5), 4.0))
    assert store.panels.stale() == ["510300.SSE"]
    _assert_matches_record(store, ["510300.SSE"], "none")


def test_deleted_and_unknown_symbols_are_named(store: Store) -> None:
    store.read_panel(["600000.SSE"])
    store.delete("000001.SZSE", "1d")
    with pytest.raises(StoreError, match=r"no 1d bars for 000001\.SZSE in the store: sync"):
        store.read_panel(["600000.SSE", "000001.SZSE"])
    _assert_matches_record(store, ["600000.SSE"], "qfq")
    with pytest.raises(ValueError, match="unknown field 'vwap'"):
        store.read_panel(["600000.SSE"], fields=("vwap",))


def test_a_torn_block_is_named_then_rebuilt_whole(store: Store) -> None:
    store.read_panel(["600000.SSE"])
    lib = store.library("panels_1d")
    item = lib.read("block")
    lib.write("block", item.data.iloc[:-1], metadata=item.metadata)  # a row short
    with pytest.raises(StoreError, match="rebuilt from the per-symbol bars on the next"):
        store.read_panel(["600000.SSE"])
    assert store.panels.stale() == ["000001.SZSE", "600000.SSE"]
    _assert_matches_record(store, ["600000.SSE", "000001.SZSE"], "qfq")
