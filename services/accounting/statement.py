"""What a broker says the account holds: the other side of a reconciliation.

A venue that can be reconciled answers with a :class:`Statement` -- cash,
positions, the orders it knows (with the client reference each carried) and
today's trades (with the fee it charged). The journal's side is rebuilt from
our own records; services/records/reconcile.py compares the two.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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


@dataclass(frozen=True)
class Statement:
    """The broker's account at one moment."""

    cash: float
    positions: dict[str, int]
    orders: tuple[BrokerOrder, ...]
    trades: tuple[BrokerTrade, ...]
    costs: dict[str, float] = field(default_factory=dict)  # average cost per share, if given

    def order(self, reference: str) -> BrokerOrder | None:
        """The broker's order sent with ``reference`` (our intent id), if it has one."""
        return next((o for o in self.orders if reference and o.reference == reference), None)
