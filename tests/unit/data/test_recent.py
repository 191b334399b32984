"""New daily rows wait in one frame (data/recent.py) and every read sees them as stored."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from services.data.recent import Recent
from services.data.sources.demo import DemoSource
from services.data.sync import DataConfig, Syncer
from services.store import Store

UNIVERSE = ["600519.SSE", "000858.SZSE", "600036.SSE"]
FIRST = date(2026, 11, 13)  # a Friday: the first sync ends here
DAYS = [date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 18)]
SOURCE = DemoSource(date(2026, 11, 24))


def _open(path: Path) -> Store:
    store = Store.of(path)
    store.open()
    return store


def _sync(store: Store, end: date) -> None:
    summary = Syncer(store, SOURCE, DataConfig()).sync(UNIVERSE, "1d", end=end)
    assert not summary.failed


def _version(store: Store, symbol: str) -> int:
    return int(store.library("bars_1d").read_metadata(symbol).version)


def _expected(symbol: str, end: date) -> pd.DataFrame:
    return SOURCE.bars(symbol, "1d", date(2016, 1, 1), end)


@pytest.fixture
def synced(tmp_path: Path) -> Store:
    store = _open(tmp_path)
    _sync(store, FIRST)
    return store


def test_one_new_day_is_held_together_and_every_read_sees_it(synced: Store) -> None:
    versions = {s: _version(synced, s) for s in UNIVERSE}
    _sync(synced, DAYS[0])
    # The per-symbol library was not written: the day waits in the recent frame.
    assert {s: _version(synced, s) for s in UNIVERSE} == versions
    assert sorted(synced.recent.entries()) == sorted(UNIVERSE)
    for symbol in UNIVERSE:
        want = _expected(symbol, DAYS[0])
        got = synced.read_bars(symbol, "1d")
        pd.testing.assert_frame_equal(got[want.columns], want, check_freq=False)
        meta = synced.meta(symbol, "1d")
        assert meta is not None
        assert meta.rows == len(want) and pd.Timestamp(meta.last) == pd.Timestamp(DAYS[0])
        assert meta.last_close == pytest.approx(float(want["close"].iloc[-1]))
        # A date range that ends before the held day, and one made only of it.
        early = synced.read_bars(symbol, "1d", end=FIRST)
        assert early.index[-1] == pd.Timestamp(FIRST)
        only = synced.read_bars(symbol, "1d", start=DAYS[0])
        assert list(only.index) == [pd.Timestamp(DAYS[0])]
        assert synced.read_pit(symbol, "1d").index[-1] == pd.Timestamp(DAYS[0])
    many = synced.read_many(UNIVERSE, "1d", how="qfq")
    panel = synced.read_panel(UNIVERSE, ("close",), "qfq")["close"]
    for symbol in UNIVERSE:
        own = synced.read_bars(symbol, "1d", how="qfq")
        pd.testing.assert_frame_equal(many[symbol], own)
        pd.testing.assert_series_equal(
            panel[symbol].dropna(), own["close"], check_names=False, check_freq=False
        )
    # The next sync resumes after the held day: nothing is fetched twice.
    summary = Syncer(synced, SOURCE, DataConfig()).sync(UNIVERSE, "1d", end=DAYS[0])
    assert summary.stored == 0


def test_a_fold_moves_the_rows_into_bars_1d_once(
    synced: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("services.store.FOLD_DAYS", 3)
    _sync(synced, DAYS[0])
    _sync(synced, DAYS[1])
    assert len(synced.recent.entries()) == 3  # two dates held: below the fold
    _sync(synced, DAYS[2])  # the third date: folded
    assert synced.recent.entries() == {}
    for symbol in UNIVERSE:
        want = _expected(symbol, DAYS[2])
        raw = synced.library("bars_1d").read(symbol).data  # the per-symbol library alone
        pd.testing.assert_frame_equal(raw[want.columns], want, check_freq=False)
        meta = synced.meta(symbol, "1d")
        assert meta is not None and meta.rows == len(want)


def test_a_fold_cut_short_neither_doubles_nor_loses_rows(
    synced: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sync(synced, DAYS[0])

    def crash(self: Recent, symbols: object) -> None:
        raise OSError("killed between the append and the removal")

    with monkeypatch.context() as patch:
        patch.setattr(Recent, "remove", crash)
        with pytest.raises(OSError):
            synced.fold()
    assert sorted(synced.recent.entries()) == sorted(UNIVERSE)  # still held ...
    for symbol in UNIVERSE:  # ... and already stored: read once
        want = _expected(symbol, DAYS[0])
        got = synced.read_bars(symbol, "1d")
        pd.testing.assert_frame_equal(got[want.columns], want, check_freq=False)
        meta = synced.meta(symbol, "1d")
        assert meta is not None and meta.rows == len(want)
    _sync(synced, DAYS[1])  # the next sync carries on from there
    assert synced.fold() == 3  # the stale copies are dropped, the new day folded
    for symbol in UNIVERSE:
        want = _expected(symbol, DAYS[1])
        raw = synced.library("bars_1d").read(symbol).data
        pd.testing.assert_frame_equal(raw[want.columns], want, check_freq=False)


def test_a_write_that_does_not_follow_folds_the_symbol_first(synced: Store) -> None:
    _sync(synced, DAYS[0])
    symbol = UNIVERSE[0]
    again = _expected(symbol, DAYS[0]).tail(3)  # a re-import of three days, the held one too
    result = synced.write_bars(symbol, "1d", again, source="demo")
    assert (result.stored, result.unchanged, result.quarantined) == (0, 3, 0)
    assert sorted(synced.recent.entries()) == sorted(UNIVERSE[1:])
    raw = synced.library("bars_1d").read(symbol).data
    want = _expected(symbol, DAYS[0])
    pd.testing.assert_frame_equal(raw[want.columns], want, check_freq=False)
    pd.testing.assert_frame_equal(synced.read_bars(symbol, "1d"), raw)


def test_a_day_that_is_not_a_simple_extension_is_appended_directly(synced: Store) -> None:
    _sync(synced, DAYS[0])  # held
    symbol = UNIVERSE[1]
    bad = _expected(symbol, DAYS[1]).tail(1).copy()
    bad["close"] *= 1.5  # beyond the limit: quarantined, so the day is not simple
    bad["high"] = bad[["high", "close"]].max(axis=1)
    good = _expected(UNIVERSE[2], DAYS[1]).tail(2)
    from services.data.records import Incoming

    results = synced.write_many(
        "1d", [Incoming(symbol, bad), Incoming(UNIVERSE[2], good.tail(1))], source="demo"
    )
    assert results[0].quarantined == 1 and results[1].stored == 1
    entries = synced.recent.entries()
    assert symbol not in entries  # folded before the write that recorded the quarantine
    assert pd.Timestamp(entries[UNIVERSE[2]].last) == pd.Timestamp(DAYS[1])
    meta = synced.meta(symbol, "1d")
    assert meta is not None and meta.issues.get("limit_move") == 1
    assert meta.rows == len(_expected(symbol, DAYS[0]))


def test_a_snapshot_pins_the_held_rows_of_its_time(synced: Store) -> None:
    _sync(synced, DAYS[0])
    pinned = synced.snapshot("1d", "test")
    _sync(synced, DAYS[1])
    symbol = UNIVERSE[0]
    assert synced.read_bars(symbol, "1d", as_of=pinned).index[-1] == pd.Timestamp(DAYS[0])
    assert synced.read_bars(symbol, "1d").index[-1] == pd.Timestamp(DAYS[1])
    synced.fold()  # folding later changes neither
    assert synced.read_bars(symbol, "1d", as_of=pinned).index[-1] == pd.Timestamp(DAYS[0])
    assert synced.read_bars(symbol, "1d").index[-1] == pd.Timestamp(DAYS[1])


def test_deleting_a_symbol_drops_its_held_rows(synced: Store) -> None:
    _sync(synced, DAYS[0])
    assert synced.delete(UNIVERSE[0], "1d")
    assert UNIVERSE[0] not in synced.recent.entries()
    assert synced.meta(UNIVERSE[0], "1d") is None


def test_a_held_day_of_a_symbol_due_for_compaction_stays_readable(synced: Store) -> None:
    # A symbol with many appends behind it is due for a compaction check; the day it
    # gains is held, not appended, so nothing of it may reach its stored metadata.
    symbol = UNIVERSE[0]
    lib = synced.library("bars_1d")
    meta = lib.read_metadata(symbol).metadata
    lib.write_metadata(symbol, {**meta, "appends": 60})
    _sync(synced, DAYS[0])
    assert symbol in synced.recent.entries()
    stored = lib.read_metadata(symbol).metadata
    assert pd.Timestamp(stored["last"]) == pd.Timestamp(FIRST)  # the held day is not there
    want = _expected(symbol, DAYS[0])
    got = synced.read_bars(symbol, "1d")
    pd.testing.assert_frame_equal(got[want.columns], want, check_freq=False)
