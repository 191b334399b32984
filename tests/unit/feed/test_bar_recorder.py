"""Minute bars of the live quotes go to the store as source ``live``; a write that fails
keeps its bars for the next try instead of dropping them."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from vnpy.event import Event

from services.events import EVENT_TICK
from services.feed.recorder import BarRecorder
from services.instruments import DEFAULT_UNIVERSE, Universe
from services.store import Store, store_uri
from services.venues.paper_venue import to_tick
from tests.unit.feed.conftest import AT, quote

INST = Universe(DEFAULT_UNIVERSE).get("600036.SSE")


def ticks(minutes: int) -> list[Event]:
    out = []
    for k in range(minutes * 4):
        q = replace(
            quote("600036.SSE"),
            at=AT + timedelta(seconds=15 * k),
            last=43.0 + k / 100,
            volume=10_000 + 100 * k,
        )
        out.append(Event(EVENT_TICK, to_tick(q, INST, "PAPER")))
    return out


def test_a_failed_write_keeps_the_bars_and_the_next_flush_stores_them(tmp_path: Path) -> None:
    store = Store(store_uri("", tmp_path))  # not opened yet: every write fails
    recorder = BarRecorder(store)
    for event in ticks(4):
        recorder.on_tick(event)
    assert recorder.flush() == 0 and "not open" in recorder.failed
    store.open()
    assert recorder.flush() == 3  # the 4th minute has not closed yet
    stored = store.read_bars("600036.SSE", "1m")
    assert list(stored.index) == [AT + timedelta(minutes=m) for m in range(3)]
    assert stored["open"].iloc[0] == 43.0 and stored["close"].iloc[0] == 43.03
    # the day's running volume, differenced from the last tick of the bar before (the first
    # bar of the day from its own first tick)
    assert list(stored["volume"]) == [300, 400, 400]
    meta = store.meta("600036.SSE", "1m")
    assert meta is not None and meta.source == "live"
