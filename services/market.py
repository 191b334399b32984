"""The latest tick of every instrument, as the bus delivered it."""

from __future__ import annotations

from vnpy.event import Event
from vnpy.trader.object import TickData


class MarketCache:
    """Last TickData per ``vt_symbol``. Writes happen on the bus thread only;
    a dict assignment is atomic, so readers on other threads need no lock."""

    def __init__(self) -> None:
        self._ticks: dict[str, TickData] = {}

    def on_tick(self, event: Event) -> None:
        tick: TickData = event.data
        self._ticks[tick.vt_symbol] = tick

    def get(self, vt_symbol: str) -> TickData | None:
        return self._ticks.get(vt_symbol)

    def snapshot(self) -> dict[str, TickData]:
        return dict(self._ticks)
