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

On real quotes (paper and replay modes, ``conservative=True``) a resting order
never fills just because the opposite touch reached it, which Level-1 snapshots
cannot prove happened to *our* order. It fills only when the market trades
through its price (at its price, up to the volume traded since the last quote),
or at its price once the volume traded there exceeds the queue that was ahead
of it on arrival (the displayed size at that price, when it was the best level).
Nothing fills at a sealed limit (a buy at limit-up with nobody offering, a sell
at limit-down with nobody bidding), outside continuous matching (auctions,
lunch), on a stale quote or on a suspended symbol: orders rest instead.
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
from services.venues.quote import Quote

Update = OrderData | TradeData


@dataclass
class _Working:
    order: OrderData
    instrument: Instrument
    reserved_cash: float = 0.0
    queue_ahead: float | None = None  # shares ahead at our price (conservative fills)


@dataclass(frozen=True)
class Conditions:
    """What the venue knows about the moment a quote arrives (real quotes only)."""

    matching: bool = True  # continuous matching (not an auction, lunch or the close)
    stale: bool = False  # the quote is older than [feed] stale_s

    def blocked(self, quote: Quote) -> str:
        """Why nothing may fill on ``quote`` now, or ""."""
        if quote.suspended:
            return "suspended"
        if not self.matching:
            return "no continuous matching"
        if self.stale:
            return "stale quote"
        return ""


LIVE = Conditions()


class PaperBroker:
    """Orders, fills and the broker-side account of the paper trading venue."""

    def __init__(
        self,
        universe: Universe,
        costs: CostConfig,
        initial_cash: float,
        gateway_name: str,
        *,
        conservative: bool = False,
    ) -> None:
        self.conservative = conservative
        self._day_volume: dict[str, int] = {}  # the last quote's running volume per symbol
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
    def submit(
        self, req: OrderRequest, quote: Quote, now: datetime, when: Conditions = LIVE
    ) -> list[Update]:
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
        if self.conservative:
            working.queue_ahead = _queue_ahead(order, quote)
            self._day_volume.setdefault(req.vt_symbol, quote.volume)  # trades from now on
        if not (self.conservative and when.blocked(quote)):  # else it rests (or is cancelled)
            updates += self._match(working, quote, aggressive=True)
        if order.type == OrderType.MARKET and order.vt_orderid in self._working:
            updates += self._finish(working, Status.CANCELLED, "market order remainder cancelled")
        return updates

    def reject(self, req: OrderRequest, now: datetime, reason: str) -> OrderData:
        """An order refused before matching (the venue has no quote for it, say)."""
        order = req.create_order_data(str(next(self._order_ids)), self.gateway_name)
        order.datetime = now
        order.status = Status.REJECTED
        order.extra = {"reason": reason}
        return order

    def cancel(self, vt_orderid: str) -> list[Update]:
        working = self._working.get(vt_orderid)
        if working is None:
            return []
        return self._finish(working, Status.CANCELLED, "cancelled on request")

    def on_quote(self, quote: Quote, when: Conditions = LIVE) -> list[Update]:
        """Match resting orders of ``quote``'s instrument; mark the book."""
        if quote.last:
            self.book.mark(quote.vt_symbol, quote.last, quote.prev_close)
        traded = quote.volume - self._day_volume.get(quote.vt_symbol, quote.volume)
        self._day_volume[quote.vt_symbol] = quote.volume
        updates: list[Update] = []
        for working in [w for w in self._working.values() if w.order.vt_symbol == quote.vt_symbol]:
            if not self.conservative:
                updates += self._match(working, quote, aggressive=False)
            elif not when.blocked(quote):
                updates += self._passive(working, quote, max(0, traded))
        return updates

    def roll_day(self, closes: dict[str, float]) -> list[Update]:
        """End of day: day orders expire, T+1 shares unlock."""
        updates: list[Update] = []
        for working in list(self._working.values()):
            updates += self._finish(working, Status.CANCELLED, "day order expired at the close")
        self.book.roll_day(closes)
        return updates

    # -- internals ----------------------------------------------------------------
    def _reject_reason(self, req: OrderRequest, inst: Instrument | None, quote: Quote) -> str:
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
        self, kind: OrderType, price: float, qty: int, inst: Instrument, quote: Quote
    ) -> float:
        """Cash a buy must reserve: market buys at today's limit-up price."""
        price = price if kind == OrderType.LIMIT else quote.limit_up
        fee = fees_for(self.costs, is_etf=inst.kind == "etf", is_sell=False, qty=qty, price=price)
        return qty * price + fee.total

    def _match(self, working: _Working, quote: Quote, aggressive: bool) -> list[Update]:
        order = working.order
        buy = order.direction == Direction.LONG
        touch, depth = (quote.ask, quote.ask_volume) if buy else (quote.bid, quote.bid_volume)
        if not touch or not depth:
            return []
        market = order.type == OrderType.MARKET
        if not market and (touch > order.price if buy else touch < order.price):
            return []
        price = touch if (aggressive or market) else order.price
        return self._fill(working, quote, price, min(int(order.volume - order.traded), depth))

    def _passive(self, working: _Working, quote: Quote, traded: int) -> list[Update]:
        """A resting order on real quotes: trade-through, or its queue traded away."""
        order = working.order
        buy = order.direction == Direction.LONG
        if traded <= 0 or not quote.last or (quote.sealed_up if buy else quote.sealed_down):
            return []
        left = int(order.volume - order.traded)
        through = quote.last < order.price if buy else quote.last > order.price
        if through:
            return self._fill(working, quote, order.price, min(left, traded))
        if quote.last != order.price or working.queue_ahead is None:
            return []
        working.queue_ahead -= traded
        if working.queue_ahead >= 0:
            return []
        qty = min(left, int(-working.queue_ahead))
        working.queue_ahead = 0.0
        return self._fill(working, quote, order.price, qty)

    def _fill(self, working: _Working, quote: Quote, price: float, qty: int) -> list[Update]:
        order = working.order
        buy = order.direction == Direction.LONG
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


def _queue_ahead(order: OrderData, quote: Quote) -> float | None:
    """Shares displayed ahead of a new order at its own price: the touch size when it
    joins the best level, 0 when it improves on it, unknown (None) behind it."""
    if order.type != OrderType.LIMIT:
        return None
    if order.direction == Direction.LONG:
        best, size = quote.bid, quote.bid_volume
        better = order.price > best
    else:
        best, size = quote.ask, quote.ask_volume
        better = best == 0 or order.price < best
    if order.price == best:
        return float(size)
    return 0.0 if better else None


def replace_order(order: OrderData) -> OrderData:
    """A snapshot of ``order``: vnpy wants event payloads never mutated after publishing."""
    copy = replace(order)
    copy.extra = dict(order.extra) if order.extra else None
    return copy
