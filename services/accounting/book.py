"""Cash-account bookkeeping for A-shares: positions, T+1, fees and P&L.

Pure arithmetic with no I/O and no locks; callers serialise access. Used by
the paper broker (the broker's view of the account) and by the portfolio
service (our own ledger, built from fills). Conventions:

- ``avg_price`` is the volume-weighted cost of the open quantity, fees
  excluded; fees are charged to ``realized`` when paid. Hence, always,
  ``equity - initial_cash == realized + unrealized`` over all positions.
- T+1: shares bought today become sellable on the next trading day.
- Day P&L of a position is its change in marked value since the start of the
  day plus today's trading cash flows (fees included), so the day P&L of the
  account is ``equity - start-of-day equity``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Side = Literal["buy", "sell"]


class BookError(ValueError):
    """A fill the account cannot take (overselling, not enough cash)."""


@dataclass
class Position:
    """Mutable state of one holding."""

    vt_symbol: str
    qty: int = 0
    avg_price: float = 0.0
    sellable: int = 0  # T+1: bought before today
    realized: float = 0.0
    sod_qty: int = 0  # held at the start of the day
    prev_close: float = 0.0
    day_flow: float = 0.0  # today's sells - buys - fees, CNY
    last: float = 0.0


@dataclass(frozen=True)
class PositionView:
    """A position marked at its last price, as the positions pane shows it."""

    vt_symbol: str
    qty: int
    sellable: int
    avg_price: float
    last: float
    market_value: float
    unrealized: float
    realized: float
    day_pnl: float


@dataclass(frozen=True)
class AccountView:
    """The whole account marked to market."""

    cash: float
    equity: float
    market_value: float
    unrealized: float
    realized: float
    day_pnl: float
    sod_equity: float
    positions: tuple[PositionView, ...]

    @property
    def day_pnl_pct(self) -> float:
        return self.day_pnl / self.sod_equity if self.sod_equity else 0.0


class Book:
    """The ledger of a cash account."""

    def __init__(self, initial_cash: float) -> None:
        if initial_cash < 0:
            raise BookError(f"initial cash must be >= 0, got {initial_cash}")
        self.initial_cash = initial_cash
        self.cash = initial_cash
        self.positions: dict[str, Position] = {}
        self._sod_cash = initial_cash
        self.closed_realized = 0.0  # realized P&L of positions closed before today

    def position(self, vt_symbol: str) -> Position:
        pos = self.positions.get(vt_symbol)
        if pos is None:
            pos = self.positions[vt_symbol] = Position(vt_symbol)
        return pos

    def sellable(self, vt_symbol: str) -> int:
        pos = self.positions.get(vt_symbol)
        return pos.sellable if pos else 0

    def qty(self, vt_symbol: str) -> int:
        pos = self.positions.get(vt_symbol)
        return pos.qty if pos else 0

    def apply_fill(self, vt_symbol: str, side: Side, qty: int, price: float, fee: float) -> None:
        """Book a fill; raises BookError (and changes nothing) if it is impossible."""
        if not (qty > 0 and math.isfinite(price) and price > 0 and math.isfinite(fee) and fee >= 0):
            raise BookError(f"bad fill: qty={qty} price={price} fee={fee}")  # NaN fails too
        pos = self.position(vt_symbol)
        notional = qty * price
        if side == "buy":
            if notional + fee > self.cash + 1e-6:
                raise BookError(
                    f"not enough cash for {vt_symbol}: need {notional + fee:,.2f}, "
                    f"have {self.cash:,.2f}"
                )
            pos.avg_price = (pos.avg_price * pos.qty + notional) / (pos.qty + qty)
            pos.qty += qty
            self.cash -= notional + fee
            pos.day_flow -= notional + fee
        else:
            if qty > pos.sellable:
                raise BookError(
                    f"cannot sell {qty} {vt_symbol}: only {pos.sellable} sellable today (T+1)"
                )
            pos.realized += (price - pos.avg_price) * qty
            pos.qty -= qty
            pos.sellable -= qty
            if pos.qty == 0:
                pos.avg_price = 0.0
            self.cash += notional - fee
            pos.day_flow += notional - fee
        pos.realized -= fee
        if pos.last == 0:
            pos.last = price

    def charge(self, vt_symbol: str, amount: float) -> None:
        """A fee the broker charged beyond what was booked with the fill (negative: a
        refund): paid from cash, charged to the position's realized P&L."""
        pos = self.position(vt_symbol)
        self.cash -= amount
        pos.realized -= amount
        pos.day_flow -= amount

    def mark(self, vt_symbol: str, last: float, prev_close: float | None = None) -> None:
        """Set the last price (and, for a new holding, the previous close)."""
        pos = self.positions.get(vt_symbol)
        if pos is not None:
            pos.last = last
            if prev_close is not None and pos.prev_close == 0:
                pos.prev_close = prev_close

    def roll_day(self, closes: dict[str, float]) -> None:
        """Start a new trading day: T+1 shares unlock, day P&L restarts from ``closes``."""
        for vt_symbol, pos in list(self.positions.items()):
            close = closes.get(vt_symbol, pos.last)
            pos.last = close
            pos.prev_close = close
            pos.sellable = pos.qty
            pos.sod_qty = pos.qty
            pos.day_flow = 0.0
            if pos.qty == 0:
                self.closed_realized += pos.realized
                del self.positions[vt_symbol]
        self._sod_cash = self.cash

    def view(self) -> AccountView:
        """Mark every position at its last price."""
        views = []
        sod_value = 0.0
        for pos in self.positions.values():
            value = pos.qty * pos.last
            sod_value += pos.sod_qty * pos.prev_close
            views.append(
                PositionView(
                    vt_symbol=pos.vt_symbol,
                    qty=pos.qty,
                    sellable=pos.sellable,
                    avg_price=pos.avg_price,
                    last=pos.last,
                    market_value=value,
                    unrealized=(pos.last - pos.avg_price) * pos.qty,
                    realized=pos.realized,
                    day_pnl=value - pos.sod_qty * pos.prev_close + pos.day_flow,
                )
            )
        market_value = sum(v.market_value for v in views)
        equity = self.cash + market_value
        sod_equity = self._sod_cash + sod_value
        return AccountView(
            cash=self.cash,
            equity=equity,
            market_value=market_value,
            unrealized=sum(v.unrealized for v in views),
            realized=self.closed_realized + sum(v.realized for v in views),
            day_pnl=sum(v.day_pnl for v in views),
            sod_equity=sod_equity,
            positions=tuple(sorted(views, key=lambda v: v.vt_symbol)),
        )
