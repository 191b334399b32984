"""A quote gateway on a bus, a fixed exchange clock and a local Sina stand-in."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import pytest

from services.accounting.costs import CostConfig
from services.bus import Bus
from services.events import EVENT_FEED, EVENT_ORDER, EVENT_TICK, EVENT_TRADE, FeedStatus
from services.feed.config import FeedConfig
from services.feed.gateway import QuoteGateway
from services.feed.sessions import TradingCalendar
from services.instruments import DEFAULT_UNIVERSE, Universe
from services.venues.paper import PaperBroker
from services.venues.quote import Quote
from tests.unit.feed.sina_server import SinaServer

AT = datetime(2026, 11, 24, 10, 0, 0)  # a Tuesday, continuous matching


class FixedClock:
    """Exchange time that moves only when a test says so."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> bool:
        return True


def quote(vt_symbol: str = "600519.SSE", **kw: object) -> Quote:
    inst = Universe(DEFAULT_UNIVERSE).get(vt_symbol)
    prev = kw.pop("prev_close", inst.ref_price)
    assert isinstance(prev, float)
    down, up = inst.limits(prev)
    last = kw.pop("last", prev)
    assert isinstance(last, float)
    base = dict(
        vt_symbol=vt_symbol,
        at=AT,
        name=inst.name,
        last=last,
        prev_close=prev,
        open=prev,
        high=max(prev, last),
        low=min(prev, last),
        bid=inst.round_price(last - inst.tick),
        ask=inst.round_price(last + inst.tick),
        bid_volume=500,
        ask_volume=300,
        volume=10_000,
        turnover=10_000 * last,
        limit_up=up,
        limit_down=down,
    )
    base.update(kw)
    return Quote(**base)  # type: ignore[arg-type]


@dataclass
class Harness:
    bus: Bus
    gateway: QuoteGateway
    clock: FixedClock
    server: SinaServer
    statuses: list[FeedStatus] = field(default_factory=list)
    ticks: list[object] = field(default_factory=list)
    orders: list[object] = field(default_factory=list)
    trades: list[object] = field(default_factory=list)

    def poll(self) -> float:
        from services.feed.source import HttpSource

        source = HttpSource(self.gateway.config.url, self.gateway.config.timeout_s)
        try:
            wait = self.gateway.poll_once(source)
        finally:
            source.close()
        self.bus.wait_idle()
        return wait

    @property
    def last(self) -> FeedStatus:
        return self.statuses[-1]


@pytest.fixture
def harness(caplog: pytest.LogCaptureFixture) -> Iterator[Harness]:
    caplog.set_level(logging.INFO, logger="quantdesk.feed")
    universe = Universe(DEFAULT_UNIVERSE)
    with SinaServer() as server:
        bus = Bus()
        config = FeedConfig(url=server.url, timeout_s=0.5, interval_s=3.0, trip_after=3)
        broker = PaperBroker(universe, CostConfig(), 1_000_000, "PAPER", conservative=True)
        gateway = QuoteGateway(bus, universe, broker, config, TradingCalendar(lambda: []))
        clock = FixedClock(AT)
        gateway.clock = clock  # type: ignore[assignment]
        gateway.wanted = lambda: ["600519.SSE", "000001.SZSE"]
        h = Harness(bus, gateway, clock, server)
        bus.register(EVENT_FEED, lambda e: h.statuses.append(e.data))
        bus.register(EVENT_TICK, lambda e: h.ticks.append(e.data))
        bus.register(EVENT_ORDER, lambda e: h.orders.append(e.data))
        bus.register(EVENT_TRADE, lambda e: h.trades.append(e.data))
        bus.start()
        server.quotes = {"600519.SSE": quote(), "000001.SZSE": quote("000001.SZSE")}
        try:
            yield h
        finally:
            gateway.close()
            bus.stop()
