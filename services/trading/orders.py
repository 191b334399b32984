"""The single order path: intent → checks and risk rules → journal (write-ahead) → gateway.

Manual tickets and (later) strategies both submit :class:`OrderIntent`s
here. The service also knows every order it sent that has not reached a
final state, from the moment it is sent (not from the broker's ack, which
may still be queued on the bus): that is what the kill switch cancels.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from vnpy.event import Event
from vnpy.trader.constant import Status
from vnpy.trader.gateway import BaseGateway
from vnpy.trader.object import CancelRequest, OrderData, OrderRequest

from services.accounting.costs import CostConfig
from services.accounting.portfolio import Portfolio
from services.bus import Bus
from services.events import (
    EVENT_INTENT_REJECTED,
    EVENT_INTENT_SUBMITTED,
    EVENT_ORDER,
    ConnectionChanged,
    IntentRejected,
    IntentSubmitted,
    OrderIntent,
    Violation,
)
from services.instruments import Universe
from services.market import MarketCache
from services.records.journal import Journal, JournalError
from services.trading.checks import CheckContext, check_intent
from services.trading.control import TradingControl
from services.trading.risk import RiskConfig, RiskContext, evaluate

log = logging.getLogger("quantdesk.orders")


@dataclass(frozen=True)
class SubmitResult:
    intent: OrderIntent
    vt_orderid: str | None
    violations: tuple[Violation, ...]

    @property
    def accepted(self) -> bool:
        return self.vt_orderid is not None


@dataclass(frozen=True)
class _Aggregates:
    reserved: float  # cash held by working limit buys
    sells: dict[str, int]  # shares of working sells per symbol
    signatures: frozenset[tuple[str, str, int, float]]  # of every working order


@dataclass
class _Sent:
    intent: OrderIntent
    req: OrderRequest
    traded: int = 0
    acked: bool = False  # the venue said something of it beyond SUBMITTING

    @property
    def remaining(self) -> int:
        return self.intent.qty - self.traded


def journal_violation(exc: Exception) -> Violation:
    """Why an order cannot go out when the journal cannot be written ahead of it."""
    return Violation("state", "journal", f"Trading HALTED: the journal cannot be written ({exc}).")


class OrderService:
    """Checks, journals and sends order intents; tracks working orders."""

    def __init__(
        self,
        *,
        bus: Bus,
        journal: Journal,
        gateway: BaseGateway,
        universe: Universe,
        market: MarketCache,
        portfolio: Portfolio,
        control: TradingControl,
        costs: CostConfig,
        risk: RiskConfig | None = None,
        account: str = "",
    ) -> None:
        self.bus = bus
        self.account = account  # a live account's id: stamped on what this path publishes
        self.clock: Callable[[], datetime] = datetime.now  # the replay's clock in a replay
        self.journal = journal
        self.gateway = gateway
        self.universe = universe
        self.market = market
        self.portfolio = portfolio
        self.control = control
        self.costs = costs
        self.risk = risk or RiskConfig()
        self._lock = threading.RLock()
        self._working: dict[str, _Sent] = {}
        # what the rate, duplicate and daily-count rules need (reset each trading day)
        self._sent_times: deque[float] = deque(maxlen=max(self.risk.max_orders_per_minute, 64))
        self._signatures: dict[tuple[str, str, int, float], float] = {}
        self._orders_today = 0
        self._cancels_today: Counter[str] = Counter()
        self.day_peak_equity = 0.0  # raised by every context and by the risk monitor
        self._agg: _Aggregates | None = None  # None: the working orders changed since
        self.blocked = ""  # why nothing may go out now (a live account being reconciled)
        # Told when a HALT written to the journal by another process is found before a
        # send (services.kill_switch: every working order cancelled, strategies stopped).
        self.on_outside_halt: Callable[[str], object] | None = None

    # -- queries --------------------------------------------------------------------
    def working_ids(self) -> list[str]:
        with self._lock:
            return list(self._working)

    def working(self) -> list[tuple[str, OrderIntent, int]]:
        """The orders sent and not finished: (vt_orderid, intent, shares traded), oldest first."""
        with self._lock:
            return [(oid, sent.intent, sent.traded) for oid, sent in self._working.items()]

    def working_symbols(self) -> set[str]:
        """Symbols of the orders sent and not finished (whatever venue they went to)."""
        with self._lock:
            return {sent.intent.vt_symbol for sent in self._working.values()}

    def sellable(self, vt_symbol: str) -> int:
        """Shares that may be sold now: T+1 sellable less what working sells hold."""
        with self._lock:
            working_sells = self._aggregates().sells.get(vt_symbol, 0)
        return self.portfolio.sellable(vt_symbol) - working_sells

    def ticket_defaults(
        self, vt_symbol: str, side: str, qty: int | None = None
    ) -> tuple[int, float | None]:
        """What a new ticket starts with: ``qty`` (one lot when None) at the touch price."""
        lot = self.universe.get(vt_symbol).lot if vt_symbol in self.universe else 100
        return (lot if qty is None else qty), self.market.touch(vt_symbol, side)

    def context(self, intent: OrderIntent) -> CheckContext:
        """What the checks see for ``intent`` right now."""
        inst = self.universe.get(intent.vt_symbol) if intent.vt_symbol in self.universe else None
        tick = self.market.get(intent.vt_symbol)
        with self._lock:
            reserved = self._aggregates().reserved
        ref = 0.0
        if tick is not None:
            ref = (tick.ask_price_1 or tick.limit_up) if intent.side == "buy" else tick.bid_price_1
        return CheckContext(
            instrument=inst,
            limit_down=tick.limit_down if tick else 0.0,
            limit_up=tick.limit_up if tick else float("inf"),
            ref_price=ref,
            sellable=self.sellable(intent.vt_symbol),
            position_qty=self.portfolio.qty(intent.vt_symbol),
            available_cash=self.portfolio.cash - reserved,
            state=self.control.state,
            state_reason=self.control.reason,
        )

    def risk_context(self, intent: OrderIntent, ref_price: float) -> RiskContext:
        """What the risk rules see for ``intent`` right now."""
        now = time.monotonic()
        tick = self.market.get(intent.vt_symbol)
        age = self.market.age(intent.vt_symbol)
        view = self.portfolio.view()
        position = next((p for p in view.positions if p.vt_symbol == intent.vt_symbol), None)
        with self._lock:
            self.day_peak_equity = max(self.day_peak_equity, view.equity)
            agg = self._aggregates()
            return RiskContext(
                now=now,
                price=intent.price if intent.kind == "limit" and intent.price else ref_price,
                last_price=tick.last_price if tick else 0.0,
                quote_age_s=age if age is not None else float("inf"),
                exchange_time=tick.datetime if tick else None,
                equity=view.equity,
                position_value=position.market_value if position else 0.0,
                gross_value=view.market_value,
                day_pnl=view.day_pnl,
                day_peak_equity=self.day_peak_equity,
                active_orders=len(self._working),
                sent_times=tuple(self._sent_times),
                signatures=self._signatures,
                working_signatures=agg.signatures,
                orders_today=self._orders_today,
                cancels_today=self._cancels_today[intent.vt_symbol],
            )

    def _aggregates(self) -> _Aggregates:
        """Sums over the working orders, recomputed only after they change (lock held)."""
        if self._agg is None:
            sells: dict[str, int] = {}
            reserved = 0.0
            for sent in self._working.values():
                i = sent.intent
                if i.side == "sell":
                    sells[i.vt_symbol] = sells.get(i.vt_symbol, 0) + sent.remaining
                else:  # market buys are immediate-or-cancel: only limit buys hold cash long
                    reserved += sent.remaining * sent.req.price
            sigs = frozenset(
                (s.intent.vt_symbol, s.intent.side, s.intent.qty, s.intent.price or 0.0)
                for s in self._working.values()
            )
            self._agg = _Aggregates(reserved, sells, sigs)
        return self._agg

    def check(self, intent: OrderIntent) -> list[Violation]:
        """The order checks, then every risk rule: all the reasons ``intent`` must not go out."""
        ctx = self.context(intent)
        out = check_intent(intent, ctx, self.costs)
        if self.blocked:
            out.insert(0, Violation("state", "reconciliation", f"not now: {self.blocked}"))
        link = getattr(self.gateway, "state", None)  # broker gateways say how they are connected
        if isinstance(link, ConnectionChanged) and link.state != "CONNECTED":
            said = f": {link.message}" if link.message else ""
            out.insert(
                0,
                Violation(
                    "state",
                    "connection",
                    f"not connected to the broker ({link.state} since {link.since:%H:%M:%S}"
                    f"{said}): nothing goes out until it is",
                ),
            )
        if ctx.instrument is not None:
            out += evaluate(intent, self.risk_context(intent, ctx.ref_price), self.risk)
        return out

    def refused(self, intent: OrderIntent, violations: list[Violation]) -> None:
        """A complete order the checks refused before it reached :meth:`submit` (at the
        ticket's review): journaled and published like any refused send."""
        with contextlib.suppress(JournalError):  # trading is HALTED for that; the screen says so
            self.journal.record(
                "intent",
                intent.intent_id,
                {"intent": intent, "verdict": "rejected", "violations": violations},
            )
        self.bus.publish(
            EVENT_INTENT_REJECTED, IntentRejected(intent, tuple(violations), self.account)
        )
        log.warning("order refused at the ticket: %s", "; ".join(v.message for v in violations))

    def risk_snapshot(self) -> dict[str, int]:
        """Counts for the risk pane: orders in the last minute, working, today."""
        now = time.monotonic()
        with self._lock:
            per_minute = sum(1 for t in self._sent_times if t > now - 60)
            return {
                "per_second": sum(1 for t in self._sent_times if t > now - 1),
                "per_minute": per_minute,
                "active": len(self._working),
                "today": self._orders_today,
                "cancels": max(self._cancels_today.values(), default=0),
            }

    def adopt(self, vt_orderid: str, intent: OrderIntent, traded: int) -> None:
        """A working order from before a restart, tracked again (the kill switch cancels it)."""
        req = intent.request()
        with self._lock:
            self._working[vt_orderid] = _Sent(intent, req, traded)
            self._agg = None

    def new_day(self) -> None:
        """A new trading day: daily counts and the day's peak equity start again."""
        with self._lock:
            self._orders_today = 0
            self._cancels_today.clear()
            self.day_peak_equity = self.portfolio.view().equity

    # -- commands -------------------------------------------------------------------
    def submit(self, intent: OrderIntent) -> SubmitResult:
        """Check, journal and send ``intent``; never raises for a rejected intent.

        Nothing is sent unless its intent and submission are journaled first: when
        the journal cannot be written, the intent is refused (and trading HALTs).
        """
        confirmed_at = time.monotonic()  # the trader confirmed (or a strategy auto-approved)
        review_ms = max(0.0, (self.clock() - intent.created_at).total_seconds() * 1000)
        # The persisted state first: `quantdesk halt` may have written HALTED while this
        # process could not answer (stopped, busy, its socket flooded); it is obeyed now.
        outside = self.control.obey_persisted()
        if outside is not None and self.on_outside_halt is not None:
            self.on_outside_halt(outside.reason)
        with self._lock:
            violations = tuple(self.check(intent))
            verdict = "rejected" if violations else "accepted"
            try:
                self.journal.record(
                    "intent",
                    intent.intent_id,
                    {"intent": intent, "verdict": verdict, "violations": violations},
                )
                if not violations:
                    req = intent.request()
                    self.journal.record("submit", intent.intent_id, {"request": req.__dict__})
            except JournalError as exc:
                return SubmitResult(intent, None, (journal_violation(exc),))
            if violations:
                self.bus.publish(
                    EVENT_INTENT_REJECTED, IntentRejected(intent, violations, self.account)
                )
                log.warning("order refused: %s", "; ".join(v.message for v in violations))
                return SubmitResult(intent, None, violations)
            sent_at = time.monotonic()
            vt_orderid = self.gateway.send_order(req)
            self._working[vt_orderid] = _Sent(intent, req)
            self._agg = None
            now = time.monotonic()
            self._sent_times.append(now)
            self._signatures[(intent.vt_symbol, intent.side, intent.qty, intent.price or 0.0)] = now
            if len(self._signatures) > 1024:  # keep the recent ones only
                horizon = now - self.risk.duplicate_window_s
                self._signatures = {k: t for k, t in self._signatures.items() if t > horizon}
            self._orders_today += 1
            try:
                self.journal.record("sent", vt_orderid, {"intent_id": intent.intent_id})
            except JournalError:  # the submission is on disk; the restart matches it by intent
                log.critical("order %s sent, its id could not be journaled", vt_orderid)
        self.bus.publish(
            EVENT_INTENT_SUBMITTED,
            IntentSubmitted(intent, vt_orderid, sent_at, confirmed_at, review_ms, self.account),
        )
        log.info(
            "sent %s %s %d %s%s as %s",
            intent.side.upper(),
            intent.kind,
            intent.qty,
            intent.vt_symbol,
            f" @ {intent.price}" if intent.price else "",
            vt_orderid,
        )
        return SubmitResult(intent, vt_orderid, ())

    def cancel(self, vt_orderid: str) -> bool:
        """Ask the gateway to cancel one working order; False if it is not working."""
        with self._lock:
            sent = self._working.get(vt_orderid)
            if sent is None:
                return False
            self.journal.record("cancel", vt_orderid, {"reason": "user"})
            self._cancel(vt_orderid, sent)
        return True

    def cancel_all(self, reason: str) -> list[str]:
        """Cancel every working order at once (one journal entry, then the requests)."""
        with self._lock:
            ids = list(self._working)
            try:
                self.journal.record("cancel_all", reason, {"orders": ids})
            except JournalError:  # cancelling only lowers risk: it goes ahead regardless
                log.critical("cancel of %d orders could not be journaled; sent anyway", len(ids))
            for vt_orderid in ids:
                self._cancel(vt_orderid, self._working[vt_orderid])
        if ids:
            log.warning("cancel requested for %d working orders (%s)", len(ids), reason)
        return ids

    def _cancel(self, vt_orderid: str, sent: _Sent) -> None:
        self._cancels_today[sent.intent.vt_symbol] += 1
        orderid = vt_orderid.split(".", 1)[1]
        self.gateway.cancel_order(CancelRequest(orderid, sent.req.symbol, sent.req.exchange))

    def on_connection(self, event: Event) -> None:
        """The broker connection dropped: orders it never acknowledged are UNKNOWN (the
        broker may or may not have them) until its own report, at the next login or
        reconciliation, says what they are. Never assumed sent, never assumed lost."""
        change: ConnectionChanged = event.data
        if change.gateway != self.gateway.gateway_name or change.state == "CONNECTED":
            return
        with self._lock:
            unknown = [(i, s) for i, s in self._working.items() if not s.acked]
        for vt_orderid, sent in unknown:
            order = sent.req.create_order_data(vt_orderid.split(".", 1)[1], change.gateway)
            order.extra = {
                "unknown": True,
                "reason": "sent just before the broker connection dropped: unknown until the "
                "broker reports it",
            }
            self.bus.publish(EVENT_ORDER, order)
        if unknown:
            log.warning(
                "%d orders unacknowledged when the broker connection dropped: UNKNOWN",
                len(unknown),
            )

    # -- bus handler ------------------------------------------------------------------
    def on_order(self, event: Event) -> None:
        order: OrderData = event.data
        with self._lock:
            sent = self._working.get(order.vt_orderid)
            if sent is None:
                return
            sent.acked = sent.acked or order.status != Status.SUBMITTING
            sent.traded = int(order.traded)
            if not order.is_active():
                del self._working[order.vt_orderid]
            self._agg = None
