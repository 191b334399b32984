"""How orders are executed: the system's latency from the trader's confirm to the send,
then to the ack and the first fill; slippage against the intent's price; per source, the
fill rate. The time an intent waited for the trader (review) is kept apart: it says
how long people take, not how fast quantdesk is.

Bus handlers only; events may arrive in any order (the broker's ack can be
dispatched before the submission event), so each order is keyed by its id and
completed as its pieces come in.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field

from vnpy.event import Event
from vnpy.trader.object import OrderData, TradeData

from services.events import IntentSubmitted, OrderIntent


@dataclass
class OrderExecution:
    intent: OrderIntent | None = None
    sent_at: float = 0.0
    confirm_to_send_ms: float | None = None
    review_ms: float | None = None
    ack_at: float | None = None
    first_fill_at: float | None = None
    filled: int = 0
    fill_value: float = 0.0
    first_seen: float = field(default_factory=time.monotonic)

    @property
    def ack_ms(self) -> float | None:
        return (
            None if self.ack_at is None or not self.sent_at else (self.ack_at - self.sent_at) * 1000
        )

    @property
    def fill_ms(self) -> float | None:
        if self.first_fill_at is None or not self.sent_at:
            return None
        return (self.first_fill_at - self.sent_at) * 1000

    @property
    def slippage_bps(self) -> float | None:
        """Average fill against the intent's limit price; positive is worse for us."""
        if not self.filled or self.intent is None or not self.intent.price:
            return None
        avg = self.fill_value / self.filled
        sign = 1 if self.intent.side == "buy" else -1
        return sign * (avg / self.intent.price - 1) * 10_000


@dataclass(frozen=True)
class StrategyExecution:
    source: str
    orders: int
    ordered: int
    filled: int
    median_confirm_to_send_ms: float | None
    median_review_ms: float | None
    median_ack_ms: float | None
    median_fill_ms: float | None
    mean_slippage_bps: float | None

    @property
    def fill_rate(self) -> float:
        return self.filled / self.ordered if self.ordered else 0.0


class ExecutionMonitor:
    def __init__(self) -> None:
        self._orders: dict[str, OrderExecution] = {}
        self._lock = threading.Lock()

    def _get(self, vt_orderid: str) -> OrderExecution:
        rec = self._orders.get(vt_orderid)
        if rec is None:
            rec = self._orders[vt_orderid] = OrderExecution()
        return rec

    def on_submitted(self, event: Event) -> None:
        sub: IntentSubmitted = event.data
        with self._lock:
            rec = self._get(sub.vt_orderid)
            rec.intent, rec.sent_at = sub.intent, sub.sent_at
            if sub.confirmed_at:
                rec.confirm_to_send_ms = max(0.0, (sub.sent_at - sub.confirmed_at) * 1000)
            rec.review_ms = sub.review_ms

    def on_order(self, event: Event) -> None:
        order: OrderData = event.data
        now = time.monotonic()
        with self._lock:
            rec = self._get(order.vt_orderid)
            if rec.ack_at is None:
                rec.ack_at = now

    def on_trade(self, event: Event) -> None:
        trade: TradeData = event.data
        now = time.monotonic()
        with self._lock:
            rec = self._get(trade.vt_orderid)
            if rec.first_fill_at is None:
                rec.first_fill_at = now
            rec.filled += int(trade.volume)
            rec.fill_value += trade.volume * trade.price

    def order(self, vt_orderid: str) -> OrderExecution | None:
        with self._lock:
            return self._orders.get(vt_orderid)

    def by_source(self) -> list[StrategyExecution]:
        """Per order source (``strategy:ID``, ``manual``, ``flatten``), sorted by source."""
        with self._lock:
            groups: dict[str, list[OrderExecution]] = {}
            for rec in self._orders.values():
                if rec.intent is not None:
                    groups.setdefault(rec.intent.source, []).append(rec)
        out = []
        for source, recs in sorted(groups.items()):
            slips = [r.slippage_bps for r in recs if r.slippage_bps is not None]
            out.append(
                StrategyExecution(
                    source,
                    len(recs),
                    sum(r.intent.qty for r in recs if r.intent is not None),
                    sum(r.filled for r in recs),
                    _median([r.confirm_to_send_ms for r in recs]),
                    _median([r.review_ms for r in recs]),
                    _median([r.ack_ms for r in recs]),
                    _median([r.fill_ms for r in recs]),
                    statistics.fmean(slips) if slips else None,
                )
            )
        return out


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None
