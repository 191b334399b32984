"""One contract, two venues: the paper venue (in process) and the scripted broker (its own
process, through its gateway). What quantdesk relies on from any venue:

- an accepted order comes back NOTTRADED carrying our reference (the intent id);
- fills come as trades of that order, each with its fee, the order PARTTRADED then
  ALLTRADED, trade ids unique;
- a refused order comes back REJECTED with the venue's reason;
- a cancel of a working order comes back CANCELLED.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
from vnpy.event import Event
from vnpy.trader.constant import Direction, Exchange, OrderType, Status
from vnpy.trader.gateway import BaseGateway
from vnpy.trader.object import CancelRequest, OrderRequest

from services.accounting.costs import CostConfig
from services.bus import Bus
from services.events import EVENT_ORDER, EVENT_TICK, EVENT_TRADE
from services.instruments import DEFAULT_UNIVERSE, Universe
from services.market import MarketCache
from services.venues.paper_account import PaperAccountGateway
from services.venues.paper_venue import to_tick
from services.venues.scripted import ScriptedGateway
from services.venues.sim_gateway import SimGateway
from services.venues.simulator import SimConfig
from tests.unit.venues.conftest import Broker, Seen, start_broker

SYMBOL, CODE = "600519.SSE", "600519"


class Venue(Protocol):
    gateway: BaseGateway

    def price(self) -> float:
        """A limit price that rests (below the market)."""

    def fill(self, vt_orderid: str, volume: int, price: float) -> None:
        """Make the venue fill ``volume`` of the order at ``price``."""

    def refused(self) -> tuple[OrderRequest, str]:
        """An order the venue will refuse, and a part of its reason."""


@dataclasses.dataclass
class PaperVenue:
    gateway: SimGateway

    def price(self) -> float:
        quote = self.gateway.market.quote(SYMBOL)
        assert quote is not None
        return round(quote.bid * 0.98, 2)

    def fill(self, vt_orderid: str, volume: int, price: float) -> None:
        with self.gateway._lock:  # as the gateway's own market step does
            quote = self.gateway.market.quote(SYMBOL)
            assert quote is not None
            offer = dataclasses.replace(quote, ask=price, ask_volume=volume, last=price)
            updates = self.gateway.broker.on_quote(offer)
        self.gateway._publish(updates)

    def refused(self) -> tuple[OrderRequest, str]:
        return _buy(self.price(), 100_000_000, "refused"), "not enough cash"


@dataclasses.dataclass
class PaperAccountVenue:
    """The built-in ``paper`` account's gateway, on the simulated market's ticks."""

    gateway: PaperAccountGateway
    sim: SimGateway

    def price(self) -> float:
        return PaperVenue(self.sim).price()

    def fill(self, vt_orderid: str, volume: int, price: float) -> None:
        quote = self.sim.market.quote(SYMBOL)
        assert quote is not None
        offer = dataclasses.replace(quote, ask=price, ask_volume=volume, last=price)
        self.sim.on_tick(to_tick(offer, self.sim.universe.get(SYMBOL), self.sim.gateway_name))

    def refused(self) -> tuple[OrderRequest, str]:
        return _buy(self.price(), 100_000_000, "refused"), "not enough cash"


@dataclasses.dataclass
class ScriptedVenue:
    gateway: ScriptedGateway
    broker: Broker

    def price(self) -> float:
        return 1500.0

    def fill(self, vt_orderid: str, volume: int, price: float) -> None:
        self.broker.call("fill", orderid=vt_orderid.split(".", 1)[1], volume=volume, price=price)

    def refused(self) -> tuple[OrderRequest, str]:
        self.broker.call("reject_next", message="资金不足 insufficient funds")
        return _buy(self.price(), 100, "refused"), "资金不足"


def _buy(price: float, qty: int, reference: str) -> OrderRequest:
    return OrderRequest(
        CODE, Exchange.SSE, Direction.LONG, OrderType.LIMIT, qty, price, reference=reference
    )


@pytest.fixture(params=["paper", "paper_account", "scripted"])
def venue(request: pytest.FixtureRequest, bus: Bus, tmp_path: Path) -> Iterator[Any]:
    if request.param == "paper":
        gateway = SimGateway(bus, Universe(DEFAULT_UNIVERSE), SimConfig(), CostConfig(), 1e7)
        gateway.advance(50)  # quotes for every symbol
        yield PaperVenue(gateway)
        return
    if request.param == "paper_account":
        market = MarketCache()
        bus.register(EVENT_TICK, market.on_tick)
        universe = Universe(DEFAULT_UNIVERSE)
        sim = SimGateway(bus, universe, SimConfig(), CostConfig(), 1e7)
        sim.advance(50)
        account = PaperAccountGateway(bus, "PP")
        account.attach(universe, CostConfig(), market, 1e7)
        account.connect({})
        assert bus.wait_idle()
        yield PaperAccountVenue(account, sim)
        return
    folder = Path(tempfile.mkdtemp(prefix="qdc", dir="/tmp"))
    broker = start_broker(folder, 1e7)
    gateway = ScriptedGateway(bus)
    gateway.connect({"socket": str(broker.path)})
    while gateway.state.state != "CONNECTED":
        time.sleep(0.01)
    yield ScriptedVenue(gateway, broker)
    gateway.close()
    broker.process.kill()
    broker.process.wait()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def events(bus: Bus) -> Seen:
    record = Seen()
    for kind in (EVENT_ORDER, EVENT_TRADE):

        def handler(event: Event, kind: str = kind) -> None:
            record.events.append((kind, event.data))

        bus.register(kind, handler)
    return record


def _statuses(seen: Seen, vt_orderid: str) -> list[Status]:
    return [o.status for o in seen.of(EVENT_ORDER) if o.vt_orderid == vt_orderid]


def test_an_accepted_order_rests_with_our_reference(venue: Venue, events: Seen) -> None:
    vt_orderid = venue.gateway.send_order(_buy(venue.price(), 300, "intent-a"))
    events.wait(lambda s: Status.NOTTRADED in _statuses(s, vt_orderid))
    order = next(o for o in events.of(EVENT_ORDER) if o.status == Status.NOTTRADED)
    assert order.reference == "intent-a" and order.volume == 300 and order.traded == 0


def test_fills_come_as_trades_with_fees_and_the_order_follows(venue: Venue, events: Seen) -> None:
    price = venue.price()
    vt_orderid = venue.gateway.send_order(_buy(price, 300, "intent-b"))
    events.wait(lambda s: Status.NOTTRADED in _statuses(s, vt_orderid))
    venue.fill(vt_orderid, 100, price)
    events.wait(lambda s: Status.PARTTRADED in _statuses(s, vt_orderid))
    venue.fill(vt_orderid, 200, price)
    events.wait(
        lambda s: Status.ALLTRADED in _statuses(s, vt_orderid) and len(s.of(EVENT_TRADE)) == 2
    )
    trades = events.of(EVENT_TRADE)
    assert [(t.vt_orderid, int(t.volume), t.price) for t in trades] == [
        (vt_orderid, 100, price),
        (vt_orderid, 200, price),
    ]
    assert len({t.vt_tradeid for t in trades}) == 2
    assert all((t.extra or {}).get("fee", 0) > 0 for t in trades)
    final = [o for o in events.of(EVENT_ORDER) if o.vt_orderid == vt_orderid][-1]
    assert final.traded == 300


def test_a_refused_order_is_rejected_with_the_venues_reason(venue: Venue, events: Seen) -> None:
    request, reason = venue.refused()
    vt_orderid = venue.gateway.send_order(request)
    events.wait(lambda s: Status.REJECTED in _statuses(s, vt_orderid))
    rejected = [o for o in events.of(EVENT_ORDER) if o.vt_orderid == vt_orderid][-1]
    assert reason in rejected.extra["reason"]
    assert events.of(EVENT_TRADE) == []


def test_a_cancel_of_a_working_order_is_confirmed(venue: Venue, events: Seen) -> None:
    vt_orderid = venue.gateway.send_order(_buy(venue.price(), 100, "intent-c"))
    events.wait(lambda s: Status.NOTTRADED in _statuses(s, vt_orderid))
    venue.gateway.cancel_order(CancelRequest(vt_orderid.split(".", 1)[1], CODE, Exchange.SSE))
    events.wait(lambda s: Status.CANCELLED in _statuses(s, vt_orderid))
