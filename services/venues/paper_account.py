"""The built-in ``paper`` account: ``gateway = "paper"`` in ``[[accounts]]``.

A paper account that trades beside real ones in live mode, on the session's quotes
(the feed, or the simulated market with ``quotes = "sim"``): the same paper broker
as paper mode, behind the same gateway model, order path and reconciliation as a
broker's. It holds no money and reaches nobody.

Its broker lives in this process, so it does not outlive a crash the way a real
one does: at a restart it is restored from the account's own journal (the book,
and the day orders that were working, working again), which makes its first
reconciliation agree by construction -- the journal is all there is to compare.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from vnpy.event import Event
from vnpy.trader.constant import Direction, Status
from vnpy.trader.object import OrderData, OrderRequest, SubscribeRequest, TickData, TradeData

from services.accounting.costs import CostConfig
from services.accounting.statement import BrokerOrder, BrokerTrade, Statement
from services.bus import Bus
from services.events import (
    EVENT_CONNECTION,
    EVENT_SESSION_ROLLED,
    EVENT_TICK,
    ConnectionChanged,
    SessionRolled,
)
from services.instruments import Universe
from services.market import MarketCache
from services.venues.accounts import BrokerUnavailable
from services.venues.paper import PaperBroker, Update
from services.venues.paper_venue import PaperVenue
from services.venues.quote import Quote


def to_quote(tick: TickData) -> Quote:
    """The paper broker's quote of a vnpy tick (the inverse of ``to_tick``)."""
    return Quote(
        vt_symbol=tick.vt_symbol,
        at=tick.datetime,
        last=tick.last_price,
        prev_close=tick.pre_close,
        open=tick.open_price,
        high=tick.high_price,
        low=tick.low_price,
        bid=tick.bid_price_1,
        ask=tick.ask_price_1,
        bid_volume=int(tick.bid_volume_1),
        ask_volume=int(tick.ask_volume_1),
        volume=int(tick.volume),
        turnover=tick.turnover,
        limit_up=tick.limit_up,
        limit_down=tick.limit_down,
        name=tick.name,
        suspended=bool((tick.extra or {}).get("suspended")),
    )


class PaperAccountGateway(PaperVenue):
    """A paper broker as an account's gateway; :meth:`attach` gives it the session."""

    default_name = "PAPER"
    default_setting: dict[str, str | int | float | bool] = {"initial_cash": 1_000_000.0}
    publishes_connection = True  # it says CONNECTED itself, as quantdesk's gateways do

    def __init__(self, bus: Bus, gateway_name: str = "PAPER") -> None:
        super().__init__(bus, gateway_name)
        self.bus = bus
        self._lock = threading.RLock()
        self._market: MarketCache | None = None
        self._orders: dict[str, OrderData] = {}  # today's, latest state
        self._trades: list[TradeData] = []  # today's
        self._connected = False

    def attach(
        self, universe: Universe, costs: CostConfig, market: MarketCache, initial_cash: float
    ) -> None:
        """The session's instruments, costs and quotes (before :meth:`connect`)."""
        self._market = market
        self.broker = PaperBroker(
            universe, costs, initial_cash, self.gateway_name, conservative=market.clock is not None
        )

    def connect(self, setting: dict[str, Any]) -> None:
        if self._market is None:
            raise RuntimeError(f"{self.gateway_name}: a paper account is attached to a session")
        self.bus.register(EVENT_TICK, self._on_tick)
        self.bus.register(EVENT_SESSION_ROLLED, self._on_rolled)
        self._connected = True
        self.on_event(
            EVENT_CONNECTION, ConnectionChanged(self.gateway_name, "CONNECTED", datetime.now())
        )

    def close(self) -> None:
        self._connected = False

    def subscribe(self, req: SubscribeRequest) -> None:
        """The session's quotes arrive on the bus: nothing to subscribe."""

    def send_order(self, req: OrderRequest) -> str:
        assert self._market is not None
        tick = self._market.get(req.vt_symbol)
        clock = self._market.clock  # the market's time, as the session's orders are stamped
        now = clock() if clock is not None else tick.datetime if tick else datetime.now()
        with self._lock:
            if tick is None:
                updates: list[Update] = [
                    self.broker.reject(req, now, f"no quote for {req.vt_symbol} yet")
                ]
            else:
                updates = self.broker.submit(req, to_quote(tick), now)
            self._keep(updates)
        self._publish(updates)
        order = updates[0]
        assert isinstance(order, OrderData)
        return str(order.vt_orderid)

    def cancel_order(self, req: Any) -> None:
        with self._lock:
            updates = self.broker.cancel(f"{self.gateway_name}.{req.orderid}")
            self._keep(updates)
        self._publish(updates)

    def statement(self, timeout: float = 5.0) -> Statement:
        """The paper broker's account now, as a broker's statement."""
        if not self._connected:
            raise BrokerUnavailable(f"{self.gateway_name} is not connected")
        with self._lock:
            book = self.broker.book
            working = {o.vt_orderid: o for o in self.broker.working_orders()}
            orders = {**self._orders, **working}
            references = {o.vt_orderid: o.reference for o in orders.values()}
            return Statement(
                cash=round(book.cash, 2),
                positions={s: p.qty for s, p in book.positions.items() if p.qty},
                orders=tuple(_order(o) for o in orders.values()),
                trades=tuple(_trade(t, references.get(t.vt_orderid, "")) for t in self._trades),
                costs={s: p.avg_price for s, p in book.positions.items() if p.qty},
            )

    # -- the session's quotes and days ------------------------------------------------------
    def _on_tick(self, event: Event) -> None:
        tick: TickData = event.data
        if not self._connected:
            return
        with self._lock:
            updates = self.broker.on_quote(to_quote(tick))
            self._keep(updates)
        self._publish(updates)

    def _on_rolled(self, event: Event) -> None:
        rolled: SessionRolled = event.data
        with self._lock:
            updates = self.broker.roll_day(rolled.closes)
            self._keep(updates)
            self._orders.clear()
            self._trades.clear()
        self._publish(updates)

    def _keep(self, updates: list[Update]) -> None:
        for update in updates:
            if isinstance(update, TradeData):
                self._trades.append(update)
            else:
                self._orders[update.vt_orderid] = update


def _order(o: OrderData) -> BrokerOrder:
    return BrokerOrder(
        o.vt_orderid,
        o.reference,
        o.vt_symbol,
        "buy" if o.direction == Direction.LONG else "sell",
        int(o.volume),
        o.price,
        int(o.traded),
        o.status.name if isinstance(o.status, Status) else str(o.status),
        str((o.extra or {}).get("reason", "")),
    )


def _trade(t: TradeData, reference: str) -> BrokerTrade:
    return BrokerTrade(
        t.vt_tradeid,
        t.vt_orderid,
        reference,
        t.vt_symbol,
        "buy" if t.direction == Direction.LONG else "sell",
        int(t.volume),
        t.price,
        float((t.extra or {}).get("fee", 0.0)),
    )
