"""The latest tick of every instrument and its intraday minute closes, as the bus delivered them."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from vnpy.event import Event
from vnpy.trader.object import TickData

TRAIL_MINUTES = 240  # one trading day of minute closes


class Trail:
    """Today's minute closes of one instrument (for sparklines); reset on a new date."""

    __slots__ = ("closes", "day", "minute")

    def __init__(self) -> None:
        self.day = -1
        self.minute = -1
        self.closes: list[float] = []

    def add(self, tick: TickData) -> None:
        at = tick.datetime
        day = at.toordinal()
        minute = at.hour * 60 + at.minute
        if day != self.day:
            self.day, self.minute, self.closes = day, -1, []
        if minute == self.minute:
            self.closes[-1] = tick.last_price
        else:
            self.minute = minute
            self.closes.append(tick.last_price)
            if len(self.closes) > TRAIL_MINUTES:
                del self.closes[0]


class MarketCache:
    """Last TickData and minute closes per ``vt_symbol``.

    Writes happen on the bus thread only; dict assignment and list copies are
    atomic under the GIL, so readers on other threads need no lock.
    """

    def __init__(self) -> None:
        self._ticks: dict[str, TickData] = {}
        self._trails: dict[str, Trail] = {}
        self._received: dict[str, float] = {}  # monotonic time of the last tick
        self.version = 0  # bumped on every tick: marks derived from quotes can be cached
        # Real quotes age by exchange time (a quote re-sent unchanged is still old); the
        # simulator's by arrival. Paper and replay set this to the feed's clock.
        self.clock: Callable[[], datetime] | None = None

    def on_tick(self, event: Event) -> None:
        tick: TickData = event.data
        self._ticks[tick.vt_symbol] = tick
        self._received[tick.vt_symbol] = time.monotonic()
        self.version += 1
        if tick.last_price <= 0:  # no trade yet today (a real quote before the open)
            return
        trail = self._trails.get(tick.vt_symbol)
        if trail is None:
            trail = self._trails[tick.vt_symbol] = Trail()
        trail.add(tick)

    def touch(self, vt_symbol: str, side: str) -> float | None:
        """The price ``side`` trades at now: the ask for a buy, the bid for a sell, the
        last price when that side of the book is empty; None without a quote. The one
        definition used by the ticket, the live runner and the flatten preview."""
        tick = self._ticks.get(vt_symbol)
        if tick is None:
            return None
        return (tick.ask_price_1 if side == "buy" else tick.bid_price_1) or tick.last_price

    def latest(self) -> dict[str, TickData]:
        """The last tick of every symbol (a copy)."""
        return dict(self._ticks)

    def get(self, vt_symbol: str) -> TickData | None:
        return self._ticks.get(vt_symbol)

    def newest_age(self) -> float | None:
        """Seconds since the newest quote of any symbol; None before the first."""
        ages = [a for a in (self.age(s) for s in list(self._ticks)) if a is not None]
        return min(ages, default=None)

    def age(self, vt_symbol: str) -> float | None:
        """Seconds since the last quote of ``vt_symbol`` (exchange time on real quotes,
        arrival on simulated ones); None without one."""
        tick = self._ticks.get(vt_symbol)
        if tick is None:
            return None
        if self.clock is not None:
            return max(0.0, (self.clock() - tick.datetime).total_seconds())
        return time.monotonic() - self._received[vt_symbol]

    def trail(self, vt_symbol: str, last: int) -> tuple[float, ...]:
        """The last ``last`` minute closes of today."""
        trail = self._trails.get(vt_symbol)
        return tuple(trail.closes[-last:]) if trail else ()
