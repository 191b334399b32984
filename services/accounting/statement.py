"""What a broker says the account holds: the other side of a reconciliation.

A venue that can be reconciled answers with a :class:`Statement` -- cash,
positions, the orders it knows (with the client reference each carried) and
today's trades (with the fee it charged). The journal's side is rebuilt from
our own records; services/records/reconcile.py compares the two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


class StatementError(ValueError):
    """A broker's statement that cannot be booked, compared or printed: a number that is
    not finite (NaN cash was "agreed" with before), a section missing. Reconciling with
    one HALTs the account."""


def finite(value: float, what: str) -> float:
    """``value`` if it is a finite number, else :class:`StatementError` naming ``what``."""
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise StatementError(f"{what} is {value!r}, not a finite number")
    return value


@dataclass(frozen=True)
class BrokerOrder:
    vt_orderid: str
    reference: str  # the intent id we sent with it; "" for an order placed elsewhere
    vt_symbol: str
    side: str  # buy or sell
    qty: int
    price: float
    traded: int
    status: str  # vnpy's Status name: NOTTRADED, PARTTRADED, ALLTRADED, CANCELLED, REJECTED
    message: str = ""

    def __post_init__(self) -> None:
        finite(self.price, f"the price of order {self.vt_orderid}")


@dataclass(frozen=True)
class BrokerTrade:
    vt_tradeid: str
    vt_orderid: str
    reference: str
    vt_symbol: str
    side: str
    qty: int
    price: float
    fee: float | None  # None: the gateway does not report fees (vnpy_ctp's do not)

    def __post_init__(self) -> None:
        finite(self.price, f"the price of trade {self.vt_tradeid}")
        if self.fee is not None:
            finite(self.fee, f"the fee of trade {self.vt_tradeid}")


@dataclass(frozen=True)
class Statement:
    """The broker's account at one moment."""

    cash: float
    positions: dict[str, int]
    orders: tuple[BrokerOrder, ...]
    trades: tuple[BrokerTrade, ...]
    costs: dict[str, float] = field(default_factory=dict)  # average cost per share, if given

    def __post_init__(self) -> None:
        finite(self.cash, "cash")
        for symbol, cost in self.costs.items():
            finite(cost, f"the average cost of {symbol}")

    def order(self, reference: str) -> BrokerOrder | None:
        """The broker's order sent with ``reference`` (our intent id), if it has one."""
        return next((o for o in self.orders if reference and o.reference == reference), None)
