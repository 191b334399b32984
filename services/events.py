"""Event type names and payloads of quantdesk's own events on the bus.

vnpy's gateway events (``eTick.``, ``eOrder.``, ``eTrade.``, ...) carry vnpy's
dataclasses; ours carry the frozen dataclasses below. Events are named in the
past tense, commands in the imperative.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from vnpy.event import EVENT_TIMER
from vnpy.trader.constant import Direction, Exchange, OrderType
from vnpy.trader.event import (  # re-exported so that callers need one import
    EVENT_ACCOUNT,
    EVENT_CONTRACT,
    EVENT_LOG,
    EVENT_ORDER,
    EVENT_POSITION,
    EVENT_TICK,
    EVENT_TRADE,
)
from vnpy.trader.object import OrderRequest

__all__ = [
    "EVENT_ACCOUNT",
    "EVENT_ALERT_DELIVERY",
    "EVENT_BACKTEST",
    "EVENT_CONNECTION",
    "EVENT_CONTRACT",
    "EVENT_FEED",
    "EVENT_HANDLER_FAILED",
    "EVENT_HEALTH",
    "EVENT_INTENT_REJECTED",
    "EVENT_INTENT_SUBMITTED",
    "EVENT_JOB",
    "EVENT_LOG",
    "EVENT_LOG_RECORDED",
    "EVENT_ORDER",
    "EVENT_POSITION",
    "EVENT_RECONCILED",
    "EVENT_REVIEW",
    "EVENT_RISK_ALERT",
    "EVENT_SESSION_ROLLED",
    "EVENT_TICK",
    "EVENT_TIMER",
    "EVENT_TRADE",
    "EVENT_TRADING_STATE_CHANGED",
    "GATEWAY_ERROR",
    "AlertDelivery",
    "ConnectionChanged",
    "FeedStatus",
    "HandlerFailed",
    "IntentRejected",
    "IntentSubmitted",
    "JobUpdated",
    "LogRecorded",
    "OrderIntent",
    "Reconciled",
    "SessionRolled",
    "TradingState",
    "TradingStateChanged",
    "Violation",
]

EVENT_HANDLER_FAILED = "qd.HandlerFailed"
EVENT_TRADING_STATE_CHANGED = "qd.TradingStateChanged"
EVENT_INTENT_SUBMITTED = "qd.IntentSubmitted"
EVENT_INTENT_REJECTED = "qd.IntentRejected"
EVENT_SESSION_ROLLED = "qd.SessionRolled"
EVENT_LOG_RECORDED = "qd.LogRecorded"
EVENT_JOB = "qd.Job"
EVENT_BACKTEST = "qd.Backtest"
EVENT_RISK_ALERT = "qd.RiskAlert"
EVENT_REVIEW = "qd.Review"
EVENT_STRATEGIES = "qd.Strategies"
EVENT_FEED = "qd.Feed"
EVENT_CONNECTION = "qd.Connection"
EVENT_RECONCILED = "qd.Reconciled"
EVENT_HEALTH = "qd.Health"  # services.ops.health.Health: the machine, every few seconds
EVENT_ALERT_DELIVERY = "qd.AlertDelivery"  # AlertDelivery: an alert channel fails, or is back

Side = Literal["buy", "sell"]
JobStatus = Literal["running", "ok", "warning", "failed", "skipped"]
OrderKind = Literal["limit", "market"]


class TradingState(enum.Enum):
    """What may go out: everything, only position-reducing orders, or nothing."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


def side_of(direction: Direction | None) -> Side:
    """Our side of a vnpy direction: LONG is a buy, anything else a sell (cash A-shares)."""
    return "buy" if direction == Direction.LONG else "sell"


@dataclass(frozen=True)
class OrderIntent:
    """An order somebody wants to send; nothing leaves before checks pass."""

    intent_id: str
    vt_symbol: str
    side: Side
    kind: OrderKind
    qty: int
    price: float | None  # None for market orders
    source: str = "manual"
    created_at: datetime = field(default_factory=datetime.now)

    def request(self) -> OrderRequest:
        """The vnpy order request for this intent (its id is the request's reference)."""
        code, _, exchange = self.vt_symbol.partition(".")
        return OrderRequest(
            symbol=code,
            exchange=Exchange(exchange),
            direction=Direction.LONG if self.side == "buy" else Direction.SHORT,
            type=OrderType.LIMIT if self.kind == "limit" else OrderType.MARKET,
            volume=self.qty,
            price=self.price or 0.0,
            reference=self.intent_id,
        )


@dataclass(frozen=True)
class Violation:
    """One failed check: which field or rule, the offending value, the limit, and why."""

    field: str  # "symbol", "qty", "price", "state", "cash", ...
    rule: str
    message: str
    value: str = ""
    limit: str = ""


@dataclass(frozen=True)
class IntentSubmitted:
    intent: OrderIntent
    vt_orderid: str
    sent_at: float = 0.0  # time.monotonic() just before the gateway was called
    confirmed_at: float = 0.0  # time.monotonic() when the order path took it (the confirm)
    review_ms: float = 0.0  # from the intent's creation to that confirm: the trader's time
    account: str = ""  # the live account it went to ("" for the mode's paper account)


@dataclass(frozen=True)
class IntentRejected:
    intent: OrderIntent
    violations: tuple[Violation, ...]
    account: str = ""  # the live account it was meant for


@dataclass(frozen=True)
class TradingStateChanged:
    state: TradingState
    previous: TradingState
    reason: str
    at: datetime
    account: str = ""  # whose trading state: a live account's id, "" for the mode's own


@dataclass(frozen=True)
class SessionRolled:
    """The simulated clock crossed into a new trading day."""

    trading_day: date
    closes: dict[str, float]


@dataclass(frozen=True)
class HandlerFailed:
    """A bus handler raised; the bus kept going."""

    event_type: str
    handler: str
    error: str
    count: int


@dataclass(frozen=True)
class LogRecorded:
    """A log line for the log pane (also written to the log file)."""

    at: datetime
    level: str
    source: str
    message: str


@dataclass(frozen=True)
class JobUpdated:
    """A scheduled job started, progressed or finished (``result`` set when finished)."""

    name: str
    state: JobStatus
    detail: str
    at: datetime
    seconds: float = 0.0
    done: int = 0
    total: int = 0


@dataclass(frozen=True)
class BacktestUpdate:
    """A backtest job moved: progress, or its end (``doc`` when done, ``error`` when failed)."""

    job: int
    state: str  # "starting", "running", "done", "failed", "cancelled"
    what: str = ""
    done: int = 0
    total: int = 0
    doc: Mapping[str, object] | None = None  # a services.backtest.spec.RunDoc
    error: str = ""


@dataclass(frozen=True)
class StrategiesChanged:
    """The live runner started or stopped strategies: which run now, and why it changed."""

    running: frozenset[str]
    reason: str


@dataclass(frozen=True)
class RiskAlert:
    """A limit was breached while trading (not by one order): what, by how much, what was done."""

    rule: str
    message: str
    value: float
    limit: float
    action: str  # "halted"
    at: datetime
    account: str = ""  # the live account halted ("" for the mode's paper account)


@dataclass(frozen=True)
class FeedStatus:
    """The live feed's state, published whenever it changes (and with every poll)."""

    source: str  # "sina", "replay <file>"
    state: str  # ok | idle | backoff | circuit open | error | finished
    detail: str  # what a trader needs to know: the phase, the error, when it retries
    newest: datetime | None = None  # exchange time of the newest quote received
    errors: int = 0  # failed polls since start
    symbols: int = 0  # symbols asked for in the last poll


GATEWAY_ERROR = "gateway error"  # a ConnectionChanged message that starts so: the gateway failed


@dataclass(frozen=True)
class ConnectionChanged:
    """A broker gateway's connection: CONNECTING, CONNECTED, RECONNECTING (since ``since``,
    the next try after ``retry_in_s``) or DOWN, with the broker's or the socket's
    message."""

    gateway: str
    state: Literal["CONNECTING", "CONNECTED", "RECONNECTING", "DOWN"]
    since: datetime
    message: str = ""
    retry_in_s: float = 0.0


@dataclass(frozen=True)
class Reconciled:
    """An account was reconciled with its broker: what was adopted, what differs (each
    difference HALTed the account), or why it could not be done (``error``)."""

    account: str
    why: str  # "connected", "on request"
    lines: tuple[str, ...] = ()
    differences: tuple[str, ...] = ()
    error: str = ""


@dataclass(frozen=True)
class AlertDelivery:
    """An alert channel started failing (``ok`` False, ``detail`` the error), or delivers
    again."""

    channel: str
    ok: bool
    detail: str
    at: datetime
