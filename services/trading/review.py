"""The review queue: strategies' proposals wait here for the trader's decision.

Every proposal, decision and edit is journaled. An approved proposal goes
through ``OrderService.submit`` like a ticket, so every check and risk rule
applies. A proposal goes stale when it is older than ``[review] ttl_s`` or the
price has moved more than ``[review] price_band_pct`` since it was proposed:
a stale one cannot be approved as it is -- edit it (new price or quantity) or
reject it. Auto-approved strategies skip the wait, not the checks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from services.bus import Bus
from services.events import EVENT_REVIEW, OrderIntent, Violation
from services.market import MarketCache
from services.records.journal import Journal
from services.settings import require
from services.trading.live import Proposal
from services.trading.orders import OrderService, SubmitResult

log = logging.getLogger("quantdesk.review")


@dataclass(frozen=True)
class ReviewConfig:
    """The review queue ([review] in config.toml)."""

    ttl_s: float = 120.0
    """A proposal older than this many seconds is stale: edit or reject it."""
    price_band_pct: float = 0.01
    """A proposal is stale when the price moved more than this since (0.01 = 1 %)."""

    def __post_init__(self) -> None:
        require(self.ttl_s > 0, "ttl_s", "must be > 0 seconds")
        require(0 < self.price_band_pct < 1, "price_band_pct", "must be a fraction, 0 < f < 1")


@dataclass(frozen=True)
class ReviewItem:
    proposal: Proposal
    verdict: tuple[Violation, ...]  # what the order path would say now
    stale: str  # why it cannot be approved as it is; "" when it can
    notional: float


class ReviewError(ValueError):
    """An approval that cannot go ahead (stale, unknown); the message says what to do."""


class ReviewQueue:
    def __init__(
        self,
        bus: Bus,
        journal: Journal,
        orders: OrderService,
        market: MarketCache,
        config: ReviewConfig,
        on_settled: Callable[[str, str, str, str], None] = lambda s, v, side, outcome: None,
    ) -> None:
        self.bus = bus
        self.journal = journal
        self.orders = orders
        self.market = market
        self.config = config
        self.on_settled = on_settled
        self._items: dict[str, Proposal] = {}
        self._lock = threading.RLock()

    # -- from the live runner ---------------------------------------------------------------
    def propose(self, proposal: Proposal, auto: bool) -> None:
        self.journal.record("proposed", proposal.intent.intent_id, _payload(proposal, auto))
        if auto:
            self._send(proposal, proposal.intent, "auto-approved")
            return
        with self._lock:
            self._items[proposal.intent.intent_id] = proposal
        self._changed()

    def restore(self, proposal: Proposal) -> None:
        """A proposal still pending when the process stopped (from the journal)."""
        with self._lock:
            self._items[proposal.intent.intent_id] = proposal

    # -- queries ----------------------------------------------------------------------------------
    def items(self) -> list[ReviewItem]:
        with self._lock:
            proposals = list(self._items.values())
        return [self._item(p) for p in proposals]

    def _item(self, p: Proposal) -> ReviewItem:
        intent = p.intent
        return ReviewItem(
            p, tuple(self.orders.check(intent)), self._stale(p), intent.qty * (intent.price or 0.0)
        )

    def _stale(self, p: Proposal) -> str:
        if p.restored:
            return "stale: proposed before the restart"
        age = time.monotonic() - p.proposed_at
        if age > self.config.ttl_s:
            return f"stale: proposed {age:.0f} s ago (limit {self.config.ttl_s:g} s)"
        tick = self.market.get(p.intent.vt_symbol)
        if tick is not None and p.ref_price > 0 and tick.last_price > 0:
            moved = abs(tick.last_price / p.ref_price - 1)
            if moved > self.config.price_band_pct:
                return (
                    f"stale: the price moved {moved:.1%} since proposed "
                    f"(limit {self.config.price_band_pct:.0%})"
                )
        return ""

    # -- the trader's decisions -----------------------------------------------------------
    def approve(
        self, intent_id: str, qty: int | None = None, price: float | None = None
    ) -> SubmitResult:
        """Send one proposal (edited if ``qty``/``price`` given); ReviewError if it cannot go."""
        with self._lock:
            proposal = self._items.get(intent_id)
            if proposal is None:
                raise ReviewError(f"no pending proposal {intent_id}")
            edited = qty is not None or price is not None
            stale = self._stale(proposal)
            if stale and not edited:
                raise ReviewError(f"{stale}; edit it (e) to re-price, or reject it (r)")
            intent = proposal.intent
            if edited:
                intent = replace(
                    intent,
                    intent_id=f"{intent.intent_id}-e",
                    qty=qty if qty is not None else intent.qty,
                    price=price if price is not None else intent.price,
                )
            del self._items[intent_id]
        result = self._send(proposal, intent, "approved (edited)" if edited else "approved")
        self._changed()
        return result

    def reject(self, intent_id: str, reason: str = "rejected by the trader") -> bool:
        with self._lock:
            proposal = self._items.pop(intent_id, None)
        return self._decline([proposal] if proposal else [], reason) == 1

    def approve_all(self, strategy_id: str) -> list[SubmitResult | str]:
        """Every fresh proposal of ``strategy_id``; stale ones are left, with the reason."""
        out: list[SubmitResult | str] = []
        for item in self.items():
            if item.proposal.strategy_id != strategy_id:
                continue
            try:
                out.append(self.approve(item.proposal.intent.intent_id))
            except ReviewError as exc:
                out.append(str(exc))
        return out

    def reject_all(self, strategy_id: str | None, reason: str) -> int:
        """Every pending proposal of ``strategy_id`` (all strategies when None), journaled
        in one transaction: the kill switch sweeps hundreds at once."""
        with self._lock:
            gone = [
                self._items.pop(i)
                for i, p in list(self._items.items())
                if strategy_id is None or p.strategy_id == strategy_id
            ]
        return self._decline(gone, reason)

    def _decline(self, gone: list[Proposal], reason: str) -> int:
        """Journal (one transaction), tell the runner, tell the screen."""
        if not gone:
            return 0
        self.journal.record_many(
            [("declined", p.intent.intent_id, {"reason": reason}) for p in gone]
        )
        for p in gone:
            self.on_settled(p.strategy_id, p.intent.vt_symbol, p.intent.side, reason)
        self._changed()
        return len(gone)

    def _send(self, proposal: Proposal, intent: OrderIntent, how: str) -> SubmitResult:
        self.journal.record(
            "approved",
            proposal.intent.intent_id,
            {"how": how, "sent_as": intent.intent_id, "qty": intent.qty, "price": intent.price},
        )
        result = self.orders.submit(intent)
        outcome = (
            f"{how}, sent as {result.vt_orderid}"
            if result.accepted
            else f"{how}, refused: " + ", ".join(v.rule for v in result.violations)
        )
        self.on_settled(proposal.strategy_id, intent.vt_symbol, intent.side, outcome)
        if not result.accepted:
            log.warning(
                "%s proposal %s refused: %s",
                how,
                intent.intent_id,
                "; ".join(v.message for v in result.violations),
            )
        return result

    def _changed(self) -> None:
        self.bus.publish(EVENT_REVIEW, len(self._items))


def _payload(p: Proposal, auto: bool) -> dict[str, object]:
    return {
        "intent": p.intent,
        "strategy": p.strategy_id,
        "reason": p.reason,
        "ref_price": p.ref_price,
        "bar_time": p.bar_time,
        "auto": auto,
    }


def parse_edit(text: str, intent: OrderIntent) -> tuple[int, float] | str:
    """A trader's edit of a proposal, ``"200 1466.50"`` (the price may be left out): the
    new quantity and price, or what is wrong with the text."""
    parts = text.split()
    try:
        qty = int(parts[0])
        price = float(parts[1]) if len(parts) > 1 else float(intent.price or 0)
    except (ValueError, IndexError):
        return "Type a quantity and a price, e.g. 200 1466.50"
    if qty <= 0 or not price > 0 or price == float("inf"):
        return "Quantity and price must be positive"
    return qty, price
