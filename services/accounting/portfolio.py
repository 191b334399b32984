"""Our own ledger of the account, built from fills and marked by quotes.

Brokers report positions too, but a trading system keeps its own books from
the fills it receives (and reconciles them with the broker's later). Fees
come with the fill when the gateway reports them (the paper broker does),
otherwise from the configured cost model.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from vnpy.event import Event

from services.accounting.book import AccountView, Book, BookError, Side
from services.accounting.costs import CostConfig, fees_for
from services.events import side_of
from services.instruments import Universe
from services.market import MarketCache

log = logging.getLogger("quantdesk.portfolio")


class Portfolio:
    """Positions, cash and P&L from fills; thread-safe."""

    def __init__(
        self, universe: Universe, costs: CostConfig, initial_cash: float, market: MarketCache
    ) -> None:
        self.universe = universe
        self.market = market
        self.costs = costs
        self._book = Book(initial_cash)
        self._lock = threading.Lock()
        self._version = 0  # bumped on every fill and day roll
        self._cached: tuple[tuple[int, int], AccountView] | None = None
        # Trade ids booked: brokers report a trade twice (a retry, the query at each login).
        self._booked: set[str] = set()

    def view(self) -> AccountView:
        """The account marked at the latest quotes (cached until a quote or a fill changes it)."""
        with self._lock:
            key = (self.market.version, self._version)
            if self._cached is not None and self._cached[0] == key:
                return self._cached[1]
            for vt_symbol in self._book.positions:
                tick = self.market.get(vt_symbol)
                if tick is not None and tick.last_price > 0:  # 0: no trade yet today
                    self._book.mark(vt_symbol, tick.last_price, tick.pre_close)
            view = self._book.view()
            self._cached = (key, view)
            return view

    def sellable(self, vt_symbol: str) -> int:
        with self._lock:
            return self._book.sellable(vt_symbol)

    def qty(self, vt_symbol: str) -> int:
        with self._lock:
            return self._book.qty(vt_symbol)

    @property
    def cash(self) -> float:
        with self._lock:
            return self._book.cash

    def restore(self, book: Book, trade_ids: set[str] | None = None) -> None:
        """Start from a ledger rebuilt from the journal (after a restart), with the ids of
        the trades it holds: the broker reports them again at login."""
        with self._lock:
            self._book = book
            self._booked = set(trade_ids or ())
            self._version += 1

    # -- bus handlers ---------------------------------------------------------------
    def on_trade(self, event: Event) -> None:
        trade = event.data
        side = side_of(trade.direction)
        fee, _ = trade_fee(trade, self.costs, self.universe)
        self.book_fill(trade.vt_tradeid, trade.vt_symbol, side, int(trade.volume), trade.price, fee)

    def fee_of(self, trade: Any) -> tuple[float, str]:
        """The fee this ledger books for ``trade`` and where it came from (the journal
        records the same: a rebuild books what the ledger booked)."""
        return trade_fee(trade, self.costs, self.universe)

    def book_fill(
        self, vt_tradeid: str, vt_symbol: str, side: Side, qty: int, price: float, fee: float
    ) -> bool:
        """Book one fill unless its trade id is booked already; False when it was not."""
        with self._lock:
            if vt_tradeid in self._booked:
                log.info("trade %s reported again: booked once", vt_tradeid)
                return False
            self._booked.add(vt_tradeid)
            try:
                self._book.apply_fill(vt_symbol, side, qty, price, fee)
                self._version += 1
            except BookError as exc:  # the broker filled what our ledger says is impossible
                log.error("ledger disagrees with broker fill %s: %s", vt_tradeid, exc)
                return False
        log.info("filled %s %d %s @ %s (fees %.2f)", side.upper(), qty, vt_symbol, price, fee)
        return True

    def on_session_rolled(self, event: Event) -> None:
        with self._lock:
            self._book.roll_day(event.data.closes)
            self._version += 1
        log.info("new trading day %s: bought shares are sellable now (T+1)", event.data.trading_day)


def trade_fee(trade: Any, costs: CostConfig, universe: Universe) -> tuple[float, str]:
    """A fill's fee: the broker's when its trade report gives one, else the cost model's;
    and which (``broker`` or ``model``), for the journal and the reconciliation."""
    fee = (trade.extra or {}).get("fee")
    if fee is not None:
        return float(fee), "broker"
    inst = universe.get(trade.vt_symbol) if trade.vt_symbol in universe else None
    model = fees_for(
        costs,
        is_etf=inst is not None and inst.kind == "etf",
        is_sell=side_of(trade.direction) == "sell",
        qty=int(trade.volume),
        price=trade.price,
    )
    return model.total, "model"
