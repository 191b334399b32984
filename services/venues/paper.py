"""Paper broker: matches orders against simulated quotes for a cash account.

Why not vnpy_paperaccount: it needs vnpy's MainEngine (which calls
``os.chdir`` and imports vnpy's logger with its stdout sink), replaces
``MainEngine.send_order`` (so its order relative to a risk manager decides
whether checks run), and knows neither A-share costs nor T+1. This module is
the smallest correct replacement: pure logic, no threads or I/O; the
simulated gateway calls it under its lock and publishes what it returns.

Matching rules (documented in README):
- An order that crosses the touch on arrival fills at the touch price, up to
  the displayed volume; the rest rests (limit) or is cancelled (market orders
  are immediate-or-cancel, as A-share market orders are).
- A resting limit order fills at its own price when the opposite touch
  reaches it, up to the displayed volume per quote (so partial fills happen).
- Buys reserve cash (price × qty plus commission); sells reserve sellable
  shares (T+1). The broker rejects what the account cannot cover.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import datetime

from vnpy.trader.constant import Direction, OrderType, Status
from vnpy.trader.object import OrderData, OrderRequest, TradeData

from services.accounting.book import Book, BookError
from services.accounting.costs import CostConfig, fees_for
from services.events import OrderIntent, side_of
from services.instruments import Instrument, Universe
from services.venues.simulator import SimQuote

Update = OrderData | TradeData


@dataclass
class _Working:
    order: OrderData
    instrument: Instrument
    reserved_cash: float = 0.0


class PaperBroker:
    """Orders, fills and the broker-side account of the paper trading venue."""

    def __init__(
        self, universe: Universe, costs: CostConfig, initial_cash: float, gateway_name: str
    ) -> None:
        self.universe = universe
        self.costs = costs
        self.book = Book(initial_cash)
        self.gateway_name = gateway_name
        self._working: dict[str, _Working] = {}
        self._order_ids = itertools.count(1)
        self._trade_ids = itertools.count(1)
        self.reserved_cash = 0.0
        self._reserved_shares: dict[str, int] = {}

    def restore(self, book: Book, last_order: int, last_trade: int) -> None:
        """Resume after a restart: the account as journaled, ids above every one issued.

        The paper venue lives in this process, so its working orders died with the
        previous one; ids continue so that none is ever reused.
        """
        self.book = book
        self._order_ids = itertools.count(last_order + 1)
        self._trade_ids = itertools.count(last_trade + 1)

    def restore_orders(self, orders: list[tuple[str, OrderIntent, int]]) -> list[OrderData]:
        """Working limit orders from the journal -- (vt_orderid, intent, traded) -- working
        again; the ones it cannot take (a market order, an unlisted symbol) are left out.

        The paper venue stands for a broker, and a broker keeps a client's day orders
        when the client crashes: their cash and shares are reserved again, ids kept.
        """
        restored = []
        for vt_orderid, intent, traded in orders:
            symbol = intent.vt_symbol
            inst = self.universe.get(symbol) if symbol in self.universe else None
            if inst is None or intent.kind != "limit" or not intent.price:
                continue
            order = intent.request().create_order_data(
                vt_orderid.rsplit(".", 1)[-1], self.gateway_name
            )
            order.traded = traded
            order.status = Status.PARTTRADED if traded else Status.NOTTRADED
            working = _Working(order, inst)
            left = intent.qty - traded
            if intent.side == "buy":
                fee = fees_for(
                    self.costs,
                    is_etf=inst.kind == "etf",
                    is_sell=False,
                    qty=left,
                    price=intent.price,
                )
                working.reserved_cash = left * intent.price + fee.total
                self.reserved_cash += working.reserved_cash
            else:
                self._reserved_shares[symbol] = self._reserved_shares.get(symbol, 0) + left
            self._working[order.vt_orderid] = working
            restored.append(replace_order(order))
        return restored

    # -- queries ----------------------------------------------------------------
    @property
    def available_cash(self) -> float:
        return self.book.cash - self.reserved_cash

    def available_to_sell(self, vt_symbol: str) -> int:
        return self.book.sellable(vt_symbol) - self._reserved_shares.get(vt_symbol, 0)

    def working_orders(self) -> list[OrderData]:
        return [w.order for w in self._working.values()]

    # -- commands ---------------------------------------------------------------
    def submit(self, req: OrderRequest, quote: SimQuote, now: datetime) -> list[Update]:
        """Accept (or reject) a new order and match it against ``quote`` at once."""
        order = req.create_order_data(str(next(self._order_ids)), self.gateway_name)
        order.datetime = now
        inst = self.universe.get(req.vt_symbol) if req.vt_symbol in self.universe else None
        reason = self._reject_reason(req, inst, quote)
        if reason or inst is None:
            order.status = Status.REJECTED
            order.extra = {"reason": reason or f"unknown symbol {req.vt_symbol}"}
            return [order]
        order.status = Status.NOTTRADED
        working = _Working(order, inst)
        if req.direction == Direction.LONG:
            working.reserved_cash = self._cash_needed(
                req.type, req.price, int(req.volume), inst, quote
            )
            self.reserved_cash += working.reserved_cash
        else:
            self._reserved_shares[req.vt_symbol] = self._reserved_shares.get(
                req.vt_symbol, 0
            ) + int(req.volume)
        self._working[order.vt_orderid] = working
        updates: list[Update] = [replace_order(order)]
        updates += self._match(working, quote, aggressive=True)
        if order.type == OrderType.MARKET and order.vt_orderid in self._working:
            updates += self._finish(working, Status.CANCELLED, "market order remainder cancelled")
        return updates

    def cancel(self, vt_orderid: str) -> list[Update]:
        working = self._working.get(vt_orderid)
        if working is None:
            return []
        return self._finish(working, Status.CANCELLED, "cancelled on request")

    def on_quote(self, quote: SimQuote) -> list[Update]:
        """Match resting orders of ``quote``'s instrument; mark the book."""
        self.book.mark(quote.vt_symbol, quote.last, quote.prev_close)
        updates: list[Update] = []
        for working in [w for w in self._working.values() if w.order.vt_symbol == quote.vt_symbol]:
            updates += self._match(working, quote, aggressive=False)
        return updates

    def roll_day(self, closes: dict[str, float]) -> list[Update]:
        """End of day: day orders expire, T+1 shares unlock."""
        updates: list[Update] = []
        for working in list(self._working.values()):
            updates += self._finish(working, Status.CANCELLED, "day order expired at the close")
        self.book.roll_day(closes)
        return updates

    # -- internals ----------------------------------------------------------------
    def _reject_reason(self, req: OrderRequest, inst: Instrument | None, quote: SimQuote) -> str:
        if inst is None:
            return f"unknown symbol {req.vt_symbol}"
        qty = int(req.volume)
        if qty <= 0 or qty != req.volume or (req.direction == Direction.LONG and qty % inst.lot):
            return f"quantity {req.volume:g} is not a positive multiple of the lot ({inst.lot})"
        if req.type == OrderType.LIMIT and not quote.limit_down <= req.price <= quote.limit_up:
            return f"price {req.price} outside today's limits {quote.limit_down}-{quote.limit_up}"
        if req.direction == Direction.LONG:
            need = self._cash_needed(req.type, req.price, qty, inst, quote)
            if need > self.available_cash + 1e-6:
                return f"not enough cash: need {need:,.2f}, available {self.available_cash:,.2f}"
        elif qty > self.available_to_sell(req.vt_symbol):
            return (
                f"cannot sell {qty}: {self.available_to_sell(req.vt_symbol)} "
                "sellable (T+1, less working sells)"
            )
        return ""

    def _cash_needed(
        self, kind: OrderType, price: float, qty: int, inst: Instrument, quote: SimQuote
    ) -> float:
        """Cash a buy must reserve: market buys at today's limit-up price."""
        price = price if kind == OrderType.LIMIT else quote.limit_up
        fee = fees_for(self.costs, is_etf=inst.kind == "etf", is_sell=False, qty=qty, price=price)
        return qty * price + fee.total

    def _match(self, working: _Working, quote: SimQuote, aggressive: bool) -> list[Update]:
        order = working.order
        buy = order.direction == Direction.LONG
        touch, depth = (quote.ask, quote.ask_volume) if buy else (quote.bid, quote.bid_volume)
        if not touch or not depth:
            return []
        market = order.type == OrderType.MARKET
        if not market and (touch > order.price if buy else touch < order.price):
            return []
        price = touch if (aggressive or market) else order.price
        qty = min(int(order.volume - order.traded), depth)
        inst = working.instrument
        fee = fees_for(self.costs, is_etf=inst.kind == "etf", is_sell=not buy, qty=qty, price=price)
        try:
            self.book.apply_fill(order.vt_symbol, side_of(order.direction), qty, price, fee.total)
        except BookError as exc:
            return self._finish(working, Status.REJECTED, str(exc))
        order.traded += qty
        if buy:
            left = int(order.volume - order.traded)
            still = self._cash_needed(order.type, order.price, left, inst, quote) if left else 0.0
            self.reserved_cash += still - working.reserved_cash
            working.reserved_cash = still
        else:
            self._reserved_shares[order.vt_symbol] -= qty
        trade = TradeData(
            gateway_name=self.gateway_name,
            symbol=order.symbol,
            exchange=order.exchange,
            orderid=order.orderid,
            tradeid=str(next(self._trade_ids)),
            direction=order.direction,
            price=price,
            volume=qty,
            datetime=quote.at,
        )
        trade.extra = {"fee": fee.total}
        if order.traded >= order.volume:
            return [trade, *self._finish(working, Status.ALLTRADED, "")]
        order.status = Status.PARTTRADED
        return [trade, replace_order(order)]

    def _finish(self, working: _Working, status: Status, reason: str) -> list[Update]:
        order = working.order
        self._working.pop(order.vt_orderid, None)
        self.reserved_cash -= working.reserved_cash
        working.reserved_cash = 0.0
        if order.direction != Direction.LONG:
            left = int(order.volume - order.traded)
            self._reserved_shares[order.vt_symbol] = (
                self._reserved_shares.get(order.vt_symbol, 0) - left
            )
        order.status = status
        if reason:
            order.extra = {"reason": reason}
        return [replace_order(order)]


def replace_order(order: OrderData) -> OrderData:
    """A snapshot of ``order``: vnpy wants event payloads never mutated after publishing."""
    copy = replace(order)
    copy.extra = dict(order.extra) if order.extra else None
    return copy
