"""The account side of a gateway whose venue is the in-process paper broker.

Shared by the simulated market and the live-quote gateway: cancels, account
and position queries, and publishing the broker's order and trade updates as
vnpy events. The gateway provides ``broker`` and ``_lock``.
"""

from __future__ import annotations

import threading
from datetime import datetime

from vnpy.trader.constant import Direction, Exchange, Product
from vnpy.trader.gateway import BaseGateway
from vnpy.trader.object import (
    AccountData,
    CancelRequest,
    ContractData,
    PositionData,
    TickData,
    TradeData,
)

from services.events import EVENT_TICK
from services.instruments import Instrument, Universe
from services.venues.paper import PaperBroker, Update
from services.venues.quote import Quote

EXCHANGES = {"SSE": Exchange.SSE, "SZSE": Exchange.SZSE}


def to_tick(q: Quote, inst: Instrument, gateway_name: str) -> TickData:
    """The vnpy TickData of a quote; ``localtime`` is the wall clock of its arrival."""
    tick = TickData(
        gateway_name=gateway_name,
        symbol=inst.code,
        exchange=EXCHANGES[inst.exchange],
        datetime=q.at,
        name=q.name or inst.name,
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
    if q.suspended:
        tick.extra = {"suspended": True}
    return tick


class PaperVenue(BaseGateway):
    """Cancels, queries and update publishing over a :class:`PaperBroker`."""

    default_setting: dict[str, str | int | float | bool] = {}  # nothing to log in to
    exchanges = [Exchange.SSE, Exchange.SZSE]
    broker: PaperBroker
    _lock: threading.RLock

    def on_tick(self, tick: TickData) -> None:
        """One EVENT_TICK per quote. vnpy also puts an ``EVENT_TICK + vt_symbol`` event for
        each tick, which nothing here subscribes to: at 2,000 ticks/s that was half the
        bus's traffic. Orders and trades keep vnpy's per-id events (rare, and cheap)."""
        self.on_event(EVENT_TICK, tick)

    def working_symbols(self) -> set[str]:
        """Symbols with a working order (read under the venue's lock: any thread)."""
        with self._lock:
            return {o.vt_symbol for o in self.broker.working_orders()}

    def publish_contracts(self, universe: Universe) -> None:
        """One ContractData per listed instrument: lot, tick and product."""
        for inst in universe.instruments:
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
