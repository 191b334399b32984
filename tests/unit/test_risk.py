"""Each risk rule rejects exactly what exceeds its limit (hypothesis), verdicts name rule,
value and limit, the order path applies them, and the monitor HALTs on a loss breach."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.events import EVENT_RISK_ALERT, OrderIntent, RiskAlert, TradingState
from services.runtime import Services
from services.trading import risk
from services.trading.risk import RiskConfig, RiskContext, evaluate

CFG = RiskConfig()
BASE = RiskContext(
    now=1000.0,
    price=10.0,
    last_price=10.0,
    quote_age_s=1.0,
    exchange_time=datetime(2026, 11, 23, 10, 0),
    equity=1_000_000.0,
    position_value=0.0,
    gross_value=0.0,
    day_pnl=0.0,
    day_peak_equity=1_000_000.0,
    active_orders=0,
)


def intent(qty: int = 100, price: float | None = 10.0, side: str = "buy") -> OrderIntent:
    kind = "limit" if price is not None else "market"
    return OrderIntent("t", "600000.SSE", side, kind, qty, price)  # type: ignore[arg-type]


def test_a_plain_order_passes_every_rule() -> None:
    assert evaluate(intent(), BASE, CFG) == []


@settings(max_examples=150, deadline=None)
@given(qty=st.integers(1, 10**7), limit=st.integers(1, 10**6))
def test_order_qty(qty: int, limit: int) -> None:
    got = risk.order_qty(intent(qty), BASE, replace(CFG, max_order_qty=limit))
    assert (got is not None) == (qty > limit)
    if got:
        assert (got.rule, got.value, got.limit) == ("order_qty", f"{qty:,}", f"{limit:,}")


@settings(max_examples=150, deadline=None)
@given(qty=st.integers(1, 10**6), price=st.floats(0.01, 5000), limit=st.floats(1, 10**8))
def test_order_notional(qty: int, price: float, limit: float) -> None:
    ctx = replace(BASE, price=price)
    got = risk.order_notional(intent(qty, price), ctx, replace(CFG, max_order_notional=limit))
    assert (got is not None) == (qty * price > limit)


@settings(max_examples=150, deadline=None)
@given(
    held=st.floats(0, 2e6),
    qty=st.integers(1, 10**5),
    limit=st.floats(1, 2e6),
    side=st.sampled_from(["buy", "sell"]),
)
def test_position_value_only_limits_buys(held: float, qty: int, limit: float, side: str) -> None:
    ctx = replace(BASE, position_value=held)
    got = risk.position_value(intent(qty, side=side), ctx, replace(CFG, max_position_value=limit))
    assert (got is not None) == (side == "buy" and held + qty * 10.0 > limit)


@settings(max_examples=150, deadline=None)
@given(
    held=st.floats(0, 1e6),
    qty=st.integers(1, 10**5),
    pct=st.floats(0.01, 1),
    equity=st.floats(1e4, 1e7),
)
def test_position_pct(held: float, qty: int, pct: float, equity: float) -> None:
    ctx = replace(BASE, position_value=held, equity=equity)
    got = risk.position_pct(intent(qty), ctx, replace(CFG, max_position_pct=pct))
    assert (got is not None) == ((held + qty * 10.0) / equity > pct)


@settings(max_examples=150, deadline=None)
@given(gross=st.floats(0, 2e6), qty=st.integers(1, 10**5), limit=st.floats(0.1, 3))
def test_gross_exposure(gross: float, qty: int, limit: float) -> None:
    ctx = replace(BASE, gross_value=gross)
    got = risk.gross_exposure(intent(qty), ctx, replace(CFG, max_gross_exposure=limit))
    assert (got is not None) == ((gross + qty * 10.0) / 1e6 > limit)


@settings(max_examples=150, deadline=None)
@given(pnl=st.floats(-1e5, 1e5), limit=st.floats(1, 1e5), side=st.sampled_from(["buy", "sell"]))
def test_daily_loss_stops_new_risk_not_exits(pnl: float, limit: float, side: str) -> None:
    got = risk.daily_loss(
        intent(side=side), replace(BASE, day_pnl=pnl), replace(CFG, max_daily_loss=limit)
    )
    assert (got is not None) == (side == "buy" and -pnl >= limit)


@settings(max_examples=150, deadline=None)
@given(equity=st.floats(5e5, 1.2e6), limit=st.floats(0.001, 0.5))
def test_drawdown_from_the_days_peak(equity: float, limit: float) -> None:
    ctx = replace(BASE, equity=equity, day_peak_equity=1.2e6)
    got = risk.drawdown(intent(), ctx, replace(CFG, max_drawdown_pct=limit))
    assert (got is not None) == ((1.2e6 - equity) / 1.2e6 >= limit)


@settings(max_examples=150, deadline=None)
@given(
    ages=st.lists(st.floats(0, 120), max_size=300),
    per_s=st.integers(1, 50),
    per_min=st.integers(1, 300),
)
def test_order_rate_per_second_and_minute(ages: list[float], per_s: int, per_min: int) -> None:
    times = sorted(1000.0 - a for a in ages)
    ctx = replace(BASE, sent_times=tuple(times))
    cfg = replace(CFG, max_orders_per_second=per_s, max_orders_per_minute=per_min)
    got = risk.order_rate(intent(), ctx, cfg)
    in_s = sum(1 for a in ages if a < 1.0)
    in_min = sum(1 for a in ages if a < 60.0)
    assert (got is not None) == (in_s >= per_s or in_min >= per_min)
    if got is not None:
        assert got.rule == ("order_rate_second" if in_s >= per_s else "order_rate_minute")


@settings(max_examples=100, deadline=None)
@given(n=st.integers(0, 500), limit=st.integers(1, 500))
def test_counted_limits(n: int, limit: int) -> None:
    cfg = replace(
        CFG, max_active_orders=limit, max_orders_per_day=limit, max_cancels_per_symbol=limit
    )
    ctx = replace(BASE, active_orders=n, orders_today=n, cancels_today=n)
    for rule in (risk.active_orders, risk.daily_orders, risk.cancel_limit):
        assert (rule(intent(), ctx, cfg) is not None) == (n >= limit)


@settings(max_examples=150, deadline=None)
@given(price=st.floats(5, 15), band=st.floats(0.001, 0.2))
def test_price_band_around_the_last_price(price: float, band: float) -> None:
    got = risk.price_band(intent(price=price), BASE, replace(CFG, price_band_pct=band))
    assert (got is not None) == (abs(price / 10.0 - 1) > band)
    assert risk.price_band(intent(price=None), BASE, replace(CFG, price_band_pct=band)) is None


@settings(max_examples=100, deadline=None)
@given(age=st.floats(0, 600), limit=st.floats(1, 300))
def test_stale_quote(age: float, limit: float) -> None:
    got = risk.stale_quote(
        intent(), replace(BASE, quote_age_s=age), replace(CFG, stale_quote_s=limit)
    )
    assert (got is not None) == (age > limit)


@settings(max_examples=100, deadline=None)
@given(minute=st.integers(0, 24 * 60 - 1))
def test_trading_hours(minute: int) -> None:
    when = datetime(2026, 11, 23, minute // 60, minute % 60)
    got = risk.trading_hours(intent(), replace(BASE, exchange_time=when), CFG)
    t = minute
    inside = 9 * 60 + 30 <= t <= 11 * 60 + 30 or 13 * 60 <= t <= 15 * 60
    assert (got is None) == inside


def test_duplicates_of_working_or_recent_orders() -> None:
    key = ("600000.SSE", "buy", 100, 10.0)
    assert risk.duplicate(intent(), replace(BASE, signatures={key: 999.0}), CFG) is not None
    assert risk.duplicate(intent(), replace(BASE, signatures={key: 990.0}), CFG) is None
    working = risk.duplicate(intent(), replace(BASE, working_signatures=frozenset({key})), CFG)
    assert working is not None and "still working" in working.message
    assert risk.duplicate(intent(qty=200), replace(BASE, signatures={key: 999.0}), CFG) is None


def test_a_zero_limit_is_off_and_bad_limits_are_config_errors() -> None:
    off = RiskConfig(max_order_qty=0, max_order_notional=0, max_active_orders=0)
    huge = replace(BASE, active_orders=10**6)
    assert (
        evaluate(
            intent(10**9, 10.0),
            replace(huge, price=10.0),
            replace(off, max_position_value=0, max_position_pct=0, max_gross_exposure=0),
        )
        == []
    )
    from services.settings import ConfigValueError

    with pytest.raises(ConfigValueError, match="trading_hours"):
        RiskConfig(trading_hours="9:30 to 11:30")
    with pytest.raises(ConfigValueError, match="max_position_pct"):
        RiskConfig(max_position_pct=1.5)


def test_the_order_path_applies_the_rules_and_journals_the_verdict(services: Services) -> None:
    services.gateway.advance(40)
    assert services.bus.wait_idle()
    tick = services.market.get("600519.SSE")
    assert tick is not None
    far = round(tick.ask_price_1 * 0.9, 2)  # 10 % under the market: outside the 3 % band
    result = services.orders.submit(OrderIntent("far", "600519.SSE", "buy", "limit", 100, far))
    assert not result.accepted
    [band] = [v for v in result.violations if v.rule == "price_band"]
    assert band.field == "risk" and band.limit == "3.0%" and float(band.value.rstrip("%")) > 9
    [entry] = services.journal.entries("intent", "far")
    assert {"price_band"} <= {v["rule"] for v in entry["payload"]["violations"]}
    ok = services.orders.submit(
        OrderIntent("ok", "600519.SSE", "buy", "limit", 100, tick.ask_price_1)
    )
    again = services.orders.submit(
        OrderIntent("dup", "600519.SSE", "buy", "limit", 100, tick.ask_price_1)
    )
    assert ok.accepted and [v.rule for v in again.violations] == ["duplicate"]


def test_the_monitor_halts_on_a_daily_loss_and_raises_an_alert(services: Services) -> None:
    alerts: list[RiskAlert] = []
    services.bus.register(EVENT_RISK_ALERT, lambda e: alerts.append(e.data))
    services.gateway.advance(40)
    assert services.bus.wait_idle()
    tick = services.market.get("600519.SSE")
    assert tick is not None
    assert services.orders.submit(
        OrderIntent("b", "600519.SSE", "buy", "limit", 100, tick.ask_price_1)
    ).accepted
    assert services.bus.wait_idle()
    view = services.portfolio.view()
    assert view.day_pnl < 0  # at least the fees
    services.risk.config = replace(services.risk.config, max_daily_loss=-view.day_pnl / 2)
    alert = services.risk.check()
    assert services.bus.wait_idle()
    assert alert is not None and alert.rule == "daily_loss" and alerts == [alert]
    assert (
        services.control.state is TradingState.HALTED
        and "daily_loss" not in services.control.reason
    )
    assert "day loss" in services.control.reason
    assert services.risk.check() is None  # once: already halted


def test_limits_tighten_at_once_loosen_on_confirmation_and_survive_a_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from services.trading.risk_monitor import NeedsConfirmation
    from tests.conftest import make_services

    svc = make_services(tmp_path)
    monitor = svc.risk
    assert monitor.set_limit("max_active_orders", 10) == "tightened"
    assert svc.orders.risk.max_active_orders == 10  # the order path uses it at once
    with pytest.raises(NeedsConfirmation, match="max_active_orders 10 → 80 loosens a limit"):
        monitor.set_limit("max_active_orders", 80)
    assert svc.orders.risk.max_active_orders == 10
    with pytest.raises(NeedsConfirmation, match="0 turns it off"):
        monitor.set_limit("max_daily_loss", 0)
    assert monitor.set_limit("max_active_orders", 80, confirmed=True) == "loosened"
    [tight, loose] = svc.journal.entries("limit")
    assert (tight["payload"]["new"], loose["payload"]["loosened"]) == (10, True)
    from services.settings import ConfigValueError

    with pytest.raises(ConfigValueError, match="max_position_pct"):
        monitor.set_limit("max_position_pct", 1.5, confirmed=True)
    svc.stop()
    again = make_services(tmp_path)
    assert again.orders.risk.max_active_orders == 80  # changed live, kept across the restart
    again.stop()


def test_the_risk_screen_numbers_and_recent_rejections(services: Services) -> None:
    services.gateway.advance(20)
    assert services.bus.wait_idle()
    tick = services.market.get("600519.SSE")
    assert tick is not None
    assert services.orders.submit(
        OrderIntent("b", "600519.SSE", "buy", "limit", 100, tick.ask_price_1)
    ).accepted
    refused = services.orders.submit(
        OrderIntent("x", "600519.SSE", "buy", "limit", 100_001, tick.ask_price_1)
    )
    assert not refused.accepted
    assert services.bus.wait_idle()
    uses = {u.name: u for u in services.risk.usage()}
    assert uses["max_orders_per_day"].used == 1 and uses["max_active_orders"].used == 0
    assert uses["max_position_value"].used == pytest.approx(100 * tick.last_price, rel=0.01)
    [(_, rejected)] = list(services.risk.rejections)
    assert rejected.intent.intent_id == "x" and {v.rule for v in rejected.violations} >= {
        "order_qty"
    }


def test_execution_latency_slippage_and_fill_rate_per_source(services: Services) -> None:
    services.gateway.advance(20)
    assert services.bus.wait_idle()
    tick = services.market.get("600519.SSE")
    assert tick is not None
    limit = tick.ask_price_1 + 1.0  # crosses: fills at the ask, better than the limit
    fills = services.orders.submit(OrderIntent("e1", "600519.SSE", "buy", "limit", 100, limit))
    rests = OrderIntent("e2", "600036.SSE", "buy", "limit", 100, 42.5, source="strategy:x")
    services.orders.submit(rests)
    assert services.bus.wait_idle()
    execution = services.execution
    assert execution is not None
    rec = execution.order(str(fills.vt_orderid))
    assert rec is not None and rec.filled == 100
    assert rec.ack_ms is not None and rec.fill_ms is not None and 0 <= rec.ack_ms <= rec.fill_ms
    assert rec.slippage_bps == pytest.approx((tick.ask_price_1 / limit - 1) * 10_000)  # < 0
    by = {s.source: s for s in execution.by_source()}
    assert by["manual"].fill_rate == 1.0 and by["strategy:x"].fill_rate == 0.0
    assert by["strategy:x"].orders == 1 and by["strategy:x"].mean_slippage_bps is None


def test_system_latency_runs_from_the_confirm_and_review_time_is_apart(
    services: Services,
) -> None:
    """An intent the trader looked at for 30 s: the system's confirm→send stays in
    milliseconds, and the 30 s show up as review time, not as latency."""
    from datetime import datetime, timedelta

    services.gateway.advance(20)
    assert services.bus.wait_idle()
    tick = services.market.get("600519.SSE")
    assert tick is not None
    shown = datetime.now() - timedelta(seconds=30)
    intent = OrderIntent(
        "slow", "600519.SSE", "buy", "limit", 100, tick.ask_price_1, created_at=shown
    )
    result = services.orders.submit(intent)
    assert result.accepted and services.bus.wait_idle()
    rec = services.execution.order(str(result.vt_orderid))
    assert rec is not None and rec.confirm_to_send_ms is not None and rec.review_ms is not None
    assert rec.confirm_to_send_ms < 1000
    assert 30_000 <= rec.review_ms < 31_000
    (manual,) = services.execution.by_source()
    assert manual.median_review_ms == rec.review_ms
    assert manual.median_confirm_to_send_ms == rec.confirm_to_send_ms
