"""The simulated market as a vnpy gateway, with paper fills.

A :class:`BaseGateway` subclass, so the rest of quantdesk talks to it exactly
as to a broker's gateway: contracts, ticks, orders, trades, positions and
account events on the bus. A producer thread paces :class:`SimMarket` at
``ticks_per_second``; tests call :meth:`advance` instead for exact replay.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import Any

from vnpy.trader.constant import Direction, Exchange, Product
from vnpy.trader.gateway import BaseGateway
from vnpy.trader.object import (
    AccountData,
    CancelRequest,
    ContractData,
    OrderData,
    OrderRequest,
    PositionData,
    SubscribeRequest,
    TickData,
    TradeData,
)

from services.accounting.costs import CostConfig
from services.bus import Bus
from services.events import EVENT_SESSION_ROLLED, EVENT_TICK, SessionRolled
from services.instruments import Instrument, Universe
from services.venues.paper import PaperBroker, Update
from services.venues.simulator import SimConfig, SimMarket, SimQuote

log = logging.getLogger("quantdesk.sim")

EXCHANGES = {"SSE": Exchange.SSE, "SZSE": Exchange.SZSE}
MAX_BURST_S = 0.25  # if the producer falls behind by more, it skips ahead


def to_tick(q: SimQuote, inst: Instrument, gateway_name: str) -> TickData:
    """The vnpy TickData of a simulated quote; ``localtime`` is the wall clock."""
    return TickData(
        gateway_name=gateway_name,
        symbol=inst.code,
        exchange=EXCHANGES[inst.exchange],
        datetime=q.at,
        name=inst.name,
        volume=q.volume,
        turnover=q.turnover,
        last_price=q.last,
        limit_up=q.limit_up,
        limit_down=q.limit_down,
        open_price=q.open,
        high_price=q.high,
        low_price=q.low,
        pre_close=q.prev_close,
        bid_price_1=q.bid,
        ask_price_1=q.ask,
        bid_volume_1=q.bid_volume,
        ask_volume_1=q.ask_volume,
        localtime=datetime.now(),
    )


class SimGateway(BaseGateway):
    """A seeded simulated A-share market with a paper account behind it."""

    default_name = "SIM"
    default_setting: dict[str, str | int | float | bool] = {}
    exchanges = [Exchange.SSE, Exchange.SZSE]

    def __init__(
        self,
        bus: Bus,
        universe: Universe,
        sim: SimConfig,
        costs: CostConfig,
        initial_cash: float,
        gateway_name: str = "SIM",
    ) -> None:
        super().__init__(bus, gateway_name)
        self.bus = bus
        self.universe = universe
        self.market = SimMarket(universe.instruments, sim)
        self.broker = PaperBroker(universe, costs, initial_cash, gateway_name)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rate = sim.ticks_per_second

    # -- BaseGateway -------------------------------------------------------------
    def on_tick(self, tick: TickData) -> None:
        """One EVENT_TICK per quote. vnpy also puts an ``EVENT_TICK + vt_symbol`` event for
        each tick, which nothing here subscribes to: at 2,000 ticks/s that was half the
        bus's traffic. Orders and trades keep vnpy's per-id events (rare, and cheap)."""
        self.on_event(EVENT_TICK, tick)

    def connect(self, setting: dict[str, Any]) -> None:
        """Publish contracts, quotes and the account; start pacing unless ``paced`` is False."""
        for inst in self.universe.instruments:
            self.on_contract(
                ContractData(
                    gateway_name=self.gateway_name,
                    symbol=inst.code,
                    exchange=EXCHANGES[inst.exchange],
                    name=inst.name,
                    product=Product.ETF if inst.kind == "etf" else Product.EQUITY,
                    size=1,
                    pricetick=inst.tick,
                    min_volume=inst.lot,
                    net_position=True,
                )
            )
        with self._lock:
            for quote in self.market.quotes():
                self.on_tick(to_tick(quote, self.universe.get(quote.vt_symbol), self.gateway_name))
        self.query_account()
        if setting.get("paced", True):
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="sim-market", daemon=True)
            self._thread.start()
        self.write_log(
            f"simulated market open: {len(self.universe)} instruments, seed "
            f"{self.market.config.seed}, speed {self.market.config.speed:g}x"
        )

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def subscribe(self, req: SubscribeRequest) -> None:
        """Every listed instrument streams; nothing to do."""

    def send_order(self, req: OrderRequest) -> str:
        with self._lock:
            quote = self.market.quote(req.vt_symbol) if req.vt_symbol in self.universe else None
            if quote is None:
                quote = self.market.quotes()[0]  # broker rejects the unknown symbol below
            updates = self.broker.submit(req, quote, self.market.clock)
        self._publish(updates)
        order = updates[0]
        assert isinstance(order, OrderData)
        return str(order.vt_orderid)

    def cancel_order(self, req: CancelRequest) -> None:
        with self._lock:
            updates = self.broker.cancel(f"{self.gateway_name}.{req.orderid}")
        self._publish(updates)

    def query_account(self) -> None:
        with self._lock:
            account = AccountData(
                gateway_name=self.gateway_name,
                accountid="PAPER",
                balance=self.broker.book.cash,
                frozen=self.broker.reserved_cash,
            )
        self.on_account(account)

    def query_position(self) -> None:
        with self._lock:
            positions = [
                PositionData(
                    gateway_name=self.gateway_name,
                    symbol=p.vt_symbol.split(".")[0],
                    exchange=EXCHANGES[p.vt_symbol.split(".")[1]],
                    direction=Direction.NET,
                    volume=p.qty,
                    yd_volume=p.sellable,
                    price=p.avg_price,
                    pnl=(p.last - p.avg_price) * p.qty,
                )
                for p in self.broker.book.positions.values()
            ]
        for pos in positions:
            self.on_position(pos)

    # -- simulation -------------------------------------------------------------
    def advance(self, steps: int) -> None:
        """Produce ``steps`` quotes now (deterministic; the pacing thread calls this too)."""
        for _ in range(steps):
            with self._lock:
                quote, rolled = self.market.step()
                updates: list[Update] = []
                if rolled:
                    closes = {q.vt_symbol: q.prev_close for q in self.market.quotes()}
                    updates += self.broker.roll_day(closes)
                    self.bus.publish(
                        EVENT_SESSION_ROLLED, SessionRolled(self.market.trading_day, closes)
                    )
                updates += self.broker.on_quote(quote)
                tick = to_tick(quote, self.universe.get(quote.vt_symbol), self.gateway_name)
            self.on_tick(tick)
            self._publish(updates)

    def _run(self) -> None:
        start = time.perf_counter()
        produced = 0
        while not self._stop.is_set():
            due = int((time.perf_counter() - start) * self._rate) - produced
            if due > self._rate * MAX_BURST_S:  # fell behind (suspended?): skip, don't burst
                produced += due - int(self._rate * MAX_BURST_S)
                due = int(self._rate * MAX_BURST_S)
            if due > 0:
                try:
                    self.advance(due)
                except Exception:  # never let the market die silently
                    log.exception("simulated market step failed; stopping the feed")
                    self.write_log("simulated market stopped after an internal error (see log)")
                    return
                produced += due
            self._stop.wait(0.01)

    def _publish(self, updates: list[Update]) -> None:
        fills = False
        for update in updates:
            if isinstance(update, TradeData):
                self.on_trade(update)
                fills = True
            else:
                self.on_order(update)
                reason = (update.extra or {}).get("reason")
                if reason and update.status.name == "REJECTED":
                    self.write_log(f"order {update.vt_orderid} rejected: {reason}")
        if fills:
            self.query_account()
            self.query_position()
