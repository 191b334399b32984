"""Pre-trade risk rules: plain, fast functions returning structured verdicts.

Each rule looks at one intent and one ``RiskContext`` (a snapshot taken by the
order service) and returns a ``Violation`` naming the rule, the value and the
limit, or None. ``evaluate`` runs them all. The limits live in ``[risk]``.
Rules that only guard against adding risk (position, exposure, loss,
drawdown) let sells through: a sell reduces a long-only book.

Together with ``checks.py`` (trading state, symbol, lot size, price tick,
daily price limits, T+1, cash) this covers every rule vnpy_riskmanager ships
(order size and value, active orders, order flow, daily order and per-symbol
cancel counts, duplicates, tick validity) plus position, exposure, loss,
drawdown, price band, stale quote and trading hours.

``RiskMonitor`` watches the account on the bus's one-second timer: a daily
loss or drawdown beyond its limit HALTs trading and publishes a ``RiskAlert``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time

from services.events import OrderIntent, Violation
from services.settings import require

log = logging.getLogger("quantdesk.risk")


@functools.lru_cache(maxsize=8)
def parse_sessions(text: str) -> tuple[tuple[time, time], ...]:
    """``"09:30-11:30,13:00-15:00"`` into (start, end) pairs; ValueError says what is wrong."""
    out = []
    for part in text.split(","):
        start, sep, end = part.strip().partition("-")
        try:
            if not sep:
                raise ValueError
            pair = (time.fromisoformat(start.strip()), time.fromisoformat(end.strip()))
        except ValueError:
            raise ValueError(f"expected HH:MM-HH:MM[,HH:MM-HH:MM], got {part.strip()!r}") from None
        if pair[0] >= pair[1]:
            raise ValueError(f"session {part.strip()!r} ends before it starts")
        out.append(pair)
    return tuple(out)


@dataclass(frozen=True)
class RiskConfig:
    """Pre-trade limits ([risk] in config.toml); 0 turns a limit off."""

    max_order_qty: int = 100_000
    """Largest quantity of one order, shares."""
    max_order_notional: float = 500_000.0
    """Largest value of one order, CNY."""
    max_position_value: float = 1_000_000.0
    """Largest position in one symbol after a buy, CNY."""
    max_position_pct: float = 0.5
    """Largest position in one symbol after a buy, as a fraction of equity."""
    max_gross_exposure: float = 1.0
    """Largest value of all positions after a buy, as a fraction of equity (1.0 = no leverage)."""
    max_daily_loss: float = 50_000.0
    """Day loss (realized plus marked) that HALTs trading, CNY."""
    max_drawdown_pct: float = 0.05
    """Fall from the day's peak equity that HALTs trading (0.05 = 5 %)."""
    max_orders_per_second: int = 10
    """Orders sent in any one second."""
    max_orders_per_minute: int = 200
    """Orders sent in any 60 seconds."""
    max_orders_per_day: int = 2_000
    """Orders sent in one trading day."""
    max_cancels_per_symbol: int = 400
    """Cancels of one symbol's orders in one day; beyond it the symbol takes no new orders."""
    max_active_orders: int = 50
    """Orders working at the same time."""
    duplicate_window_s: float = 2.0
    """An order identical to one sent this many seconds ago (or still working) is refused."""
    price_band_pct: float = 0.03
    """A limit price this far from the last price is refused (0.03 = 3 %)."""
    stale_quote_s: float = 30.0
    """No order when the symbol's last quote is older than this, seconds."""
    trading_hours: str = "09:30-11:30,13:00-15:00"
    """Exchange-time sessions in which orders may go out."""

    def __post_init__(self) -> None:
        for name in (
            "max_order_qty",
            "max_orders_per_second",
            "max_orders_per_minute",
            "max_orders_per_day",
            "max_cancels_per_symbol",
            "max_active_orders",
        ):
            require(getattr(self, name) >= 0, name, "must be >= 0 (0 = off)")
        for name in ("max_order_notional", "max_position_value", "max_daily_loss"):
            require(getattr(self, name) >= 0, name, "must be >= 0 CNY (0 = off)")
        for name in ("max_position_pct", "max_drawdown_pct", "price_band_pct"):
            require(0 <= getattr(self, name) <= 1, name, "must be a fraction between 0 and 1")
        require(0 <= self.max_gross_exposure <= 10, "max_gross_exposure", "must be 0..10")
        require(self.duplicate_window_s >= 0, "duplicate_window_s", "must be >= 0")
        require(self.stale_quote_s >= 0, "stale_quote_s", "must be >= 0")
        try:
            parse_sessions(self.trading_hours)
        except ValueError as exc:
            require(False, "trading_hours", str(exc))

    @property
    def sessions(self) -> tuple[tuple[time, time], ...]:
        return parse_sessions(self.trading_hours)


@dataclass(frozen=True)
class RiskContext:
    """What the rules see for one intent, read at one moment by the order service."""

    now: float  # monotonic seconds
    price: float  # the order's price, or the touch for a market order
    last_price: float  # 0 when there is no quote
    quote_age_s: float  # inf when there is no quote
    exchange_time: datetime | None  # of the last quote
    equity: float
    position_value: float  # this symbol, marked
    gross_value: float  # all positions, marked
    day_pnl: float
    day_peak_equity: float
    active_orders: int
    sent_times: Sequence[float] = ()  # monotonic times of recent sends, oldest first
    signatures: Mapping[tuple[str, str, int, float], float] = field(default_factory=dict)  # sent at
    working_signatures: frozenset[tuple[str, str, int, float]] = frozenset()
    orders_today: int = 0
    cancels_today: int = 0  # of this symbol


Rule = Callable[[OrderIntent, RiskContext, RiskConfig], Violation | None]


# The unit of each [risk] limit and of each rule's value, so that every screen and
# message shows money as money and fractions as percent (never 1e+06 or 0.03).
UNITS = {
    "max_order_qty": "shares",
    "max_order_notional": "CNY",
    "max_position_value": "CNY",
    "max_position_pct": "%",
    "max_gross_exposure": "%",
    "max_daily_loss": "CNY",
    "max_drawdown_pct": "%",
    "max_orders_per_second": "orders",
    "max_orders_per_minute": "orders",
    "max_orders_per_day": "orders",
    "max_cancels_per_symbol": "cancels",
    "max_active_orders": "orders",
    "duplicate_window_s": "s",
    "price_band_pct": "%",
    "stale_quote_s": "s",
}
RULE_UNITS = {
    "order_qty": "shares",
    "order_notional": "CNY",
    "position_value": "CNY",
    "position_pct": "%",
    "gross_exposure": "%",
    "daily_loss": "CNY",
    "drawdown": "%",
    "price_band": "%",
    "stale_quote": "s",
    "duplicate": "s",
}


def with_unit(value: float | str, unit: str) -> str:
    """``1,000,000 CNY``, ``3.0%``, ``2 s``, ``2,000``: a limit or a value as people read it."""
    if isinstance(value, str):
        return value
    if unit == "%":
        return f"{value:.1%}"
    if unit == "CNY":
        return f"{value:,.2f} CNY" if value % 1 else f"{value:,.0f} CNY"
    if unit == "s":
        return f"{value:,.1f} s" if value % 1 else f"{value:,.0f} s"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def limit_text(name: str, value: float) -> str:
    """A [risk] limit's value with its unit; 0 is "off"."""
    return "off" if not value else with_unit(value, UNITS.get(name, ""))


def _v(rule: str, message: str, value: float | str, limit: float | str) -> Violation:
    unit = RULE_UNITS.get(rule, "")
    return Violation(
        "risk", rule, message, value=with_unit(value, unit), limit=with_unit(limit, unit)
    )


def order_qty(i: OrderIntent, c: RiskContext, k: RiskConfig) -> Violation | None:
    if k.max_order_qty and i.qty > k.max_order_qty:
        return _v(
            "order_qty",
            f"Order of {i.qty:,} shares exceeds the {k.max_order_qty:,} limit.",
            i.qty,
            k.max_order_qty,
        )
    return None


def order_notional(i: OrderIntent, c: RiskContext, k: RiskConfig) -> Violation | None:
    notional = i.qty * c.price
    if k.max_order_notional and notional > k.max_order_notional:
        return _v(
            "order_notional",
            f"Order value {notional:,.0f} exceeds the {k.max_order_notional:,.0f} limit.",
            round(notional, 2),
            k.max_order_notional,
        )
    return None


def position_value(i: OrderIntent, c: RiskContext, k: RiskConfig) -> Violation | None:
    after = c.position_value + i.qty * c.price
    if i.side == "buy" and k.max_position_value and after > k.max_position_value:
        return _v(
            "position_value",
            f"{i.vt_symbol} position would be {after:,.0f}, "
            f"over the {k.max_position_value:,.0f} limit.",
            round(after, 2),
            k.max_position_value,
        )
    return None


def position_pct(i: OrderIntent, c: RiskContext, k: RiskConfig) -> Violation | None:
    if i.side != "buy" or not k.max_position_pct or c.equity <= 0:
        return None
    pct = (c.position_value + i.qty * c.price) / c.equity
    if pct > k.max_position_pct:
        return _v(
            "position_pct",
            f"{i.vt_symbol} would be {pct:.1%} of equity, over the {k.max_position_pct:.0%} limit.",
            round(pct, 4),
            k.max_position_pct,
        )
    return None


def gross_exposure(i: OrderIntent, c: RiskContext, k: RiskConfig) -> Violation | None:
    if i.side != "buy" or not k.max_gross_exposure or c.equity <= 0:
        return None
    gross = (c.gross_value + i.qty * c.price) / c.equity
    if gross > k.max_gross_exposure:
        return _v(
            "gross_exposure",
            f"Positions would be {gross:.1%} of equity, over the {k.max_gross_exposure:.0%} limit.",
            round(gross, 4),
            k.max_gross_exposure,
        )
    return None


def daily_loss(i: OrderIntent, c: RiskContext, k: RiskConfig) -> Violation | None:
    if i.side == "buy" and k.max_daily_loss and -c.day_pnl >= k.max_daily_loss:
        return _v(
            "daily_loss",
            f"Day loss {-c.day_pnl:,.0f} has reached the {k.max_daily_loss:,.0f} limit: "
            "no new risk today.",
            round(-c.day_pnl, 2),
            k.max_daily_loss,
        )
    return None


def drawdown(i: OrderIntent, c: RiskContext, k: RiskConfig) -> Violation | None:
    if i.side != "buy" or not k.max_drawdown_pct or c.day_peak_equity <= 0:
        return None
    dd = (c.day_peak_equity - c.equity) / c.day_peak_equity
    if dd >= k.max_drawdown_pct:
        return _v(
            "drawdown",
            f"Equity is {dd:.1%} below today's peak, at the {k.max_drawdown_pct:.0%} "
            "limit: no new risk today.",
            round(dd, 4),
            k.max_drawdown_pct,
        )
    return None


def order_rate(i: OrderIntent, c: RiskContext, k: RiskConfig) -> Violation | None:
    times = c.sent_times
    if k.max_orders_per_second and _count_since(times, c.now - 1.0) >= k.max_orders_per_second:
        return _v(
            "order_rate_second",
            f"{k.max_orders_per_second} orders in the last second is the limit.",
            _count_since(times, c.now - 1.0),
            k.max_orders_per_second,
        )
    if k.max_orders_per_minute and _count_since(times, c.now - 60.0) >= k.max_orders_per_minute:
        return _v(
            "order_rate_minute",
            f"{k.max_orders_per_minute} orders in the last minute is the limit.",
            _count_since(times, c.now - 60.0),
            k.max_orders_per_minute,
        )
    return None


def daily_orders(i: OrderIntent, c: RiskContext, k: RiskConfig) -> Violation | None:
    if k.max_orders_per_day and c.orders_today >= k.max_orders_per_day:
        return _v(
            "daily_orders",
            f"{c.orders_today:,} orders today: the daily limit is {k.max_orders_per_day:,}.",
            c.orders_today,
            k.max_orders_per_day,
        )
    return None


def cancel_limit(i: OrderIntent, c: RiskContext, k: RiskConfig) -> Violation | None:
    if k.max_cancels_per_symbol and c.cancels_today >= k.max_cancels_per_symbol:
        return _v(
            "cancel_limit",
            f"{c.cancels_today} cancels of {i.vt_symbol} today: no new orders for it "
            f"(limit {k.max_cancels_per_symbol}).",
            c.cancels_today,
            k.max_cancels_per_symbol,
        )
    return None


def active_orders(i: OrderIntent, c: RiskContext, k: RiskConfig) -> Violation | None:
    if k.max_active_orders and c.active_orders >= k.max_active_orders:
        return _v(
            "active_orders",
            f"{c.active_orders} orders are working: the limit is {k.max_active_orders}.",
            c.active_orders,
            k.max_active_orders,
        )
    return None


def duplicate(i: OrderIntent, c: RiskContext, k: RiskConfig) -> Violation | None:
    if not k.duplicate_window_s:
        return None
    key = (i.vt_symbol, i.side, i.qty, i.price or 0.0)
    at = c.signatures.get(key)
    if key in c.working_signatures:
        why = "is still working"
    elif at is not None and c.now - at < k.duplicate_window_s:
        why = f"went out {c.now - at:.1f} s ago"
    else:
        return None
    return _v(
        "duplicate",
        f"An identical order {why}.",
        f"{i.side} {i.qty} {i.vt_symbol}",
        f"{k.duplicate_window_s:g} s",
    )


def price_band(i: OrderIntent, c: RiskContext, k: RiskConfig) -> Violation | None:
    if i.kind != "limit" or not i.price or not k.price_band_pct or c.last_price <= 0:
        return None
    off = abs(i.price / c.last_price - 1.0)
    if off > k.price_band_pct:
        return _v(
            "price_band",
            f"Price {i.price:g} is {off:.1%} from the last {c.last_price:g}; "
            f"the band is {k.price_band_pct:.0%}.",
            round(off, 4),
            k.price_band_pct,
        )
    return None


def stale_quote(i: OrderIntent, c: RiskContext, k: RiskConfig) -> Violation | None:
    if k.stale_quote_s and c.quote_age_s > k.stale_quote_s:
        age = (
            "no quote yet"
            if c.quote_age_s == float("inf")
            else f"the last quote is {c.quote_age_s:.0f} s old"
        )
        return _v(
            "stale_quote",
            f"{i.vt_symbol}: {age} (limit {k.stale_quote_s:g} s).",
            "none" if c.quote_age_s == float("inf") else round(c.quote_age_s, 1),
            k.stale_quote_s,
        )
    return None


def trading_hours(i: OrderIntent, c: RiskContext, k: RiskConfig) -> Violation | None:
    if c.exchange_time is None:
        return None  # no quote: stale_quote says so
    now = c.exchange_time.time()
    for start, end in parse_sessions(k.trading_hours):
        if start <= now <= end:
            return None
    return _v(
        "trading_hours",
        f"{now:%H:%M:%S} is outside trading hours {k.trading_hours}.",
        f"{now:%H:%M:%S}",
        k.trading_hours,
    )


RULES: tuple[Rule, ...] = (
    stale_quote,
    trading_hours,
    order_qty,
    order_notional,
    position_value,
    position_pct,
    gross_exposure,
    daily_loss,
    drawdown,
    order_rate,
    daily_orders,
    cancel_limit,
    active_orders,
    duplicate,
    price_band,
)


def evaluate(intent: OrderIntent, ctx: RiskContext, config: RiskConfig) -> list[Violation]:
    """Every rule's verdict on ``intent``; empty when all pass."""
    out = []
    for rule in RULES:
        verdict = rule(intent, ctx, config)
        if verdict is not None:
            out.append(verdict)
    return out


def _count_since(times: Sequence[float], since: float) -> int:
    """Sends after ``since`` (``times`` ascending): a backwards scan, cheap for short windows."""
    n = 0
    for t in reversed(times):
        if t <= since:
            break
        n += 1
    return n
