"""Which bus events are alerts: each kind the issue names, with its words, severity and
key; the feed, the brokers and the system monitor alert on changes only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from vnpy.trader.constant import Direction, Exchange, Status
from vnpy.trader.object import OrderData, TradeData

from services.alerts.config import AlertsConfig
from services.alerts.rules import AlertRules
from services.events import (
    ConnectionChanged,
    FeedStatus,
    HandlerFailed,
    IntentRejected,
    JobUpdated,
    OrderIntent,
    Reconciled,
    RiskAlert,
    TradingState,
    TradingStateChanged,
    Violation,
)

AT = datetime(2026, 12, 2, 10, 31, 2)


def rules(**config: object) -> AlertRules:
    names = {"600519.SSE": "贵州茅台"}
    return AlertRules(
        AlertsConfig(**config),  # type: ignore[arg-type]
        stale_s=15.0,
        name_of=lambda vt: names.get(vt, ""),
        clock=lambda: AT,
    )


@dataclass
class Reading:  # the fields of services.ops.health.Health the rules read
    feed_age_s: float | None = 1.0
    warnings: tuple[str, ...] = field(default_factory=tuple)


def test_a_fill_names_the_side_quantity_symbol_and_price() -> None:
    trade = TradeData(
        "main",
        "600519",
        Exchange.SSE,
        "17",
        "t9",
        Direction.LONG,
        price=1688.0,
        volume=100,
        datetime=AT,
    )
    alert = rules().fill(trade)
    assert alert.kind == "fill" and alert.severity == "info" and alert.account == "main"
    assert alert.title == "[main] Filled BUY 100 600519.SSE 贵州茅台 @ 1688"
    assert alert.key == "fill:main.t9"  # every fill its own: never de-duplicated


def test_severity_of_a_kind_can_be_changed() -> None:
    trade = TradeData(
        "SIM", "600519", Exchange.SSE, "1", "1", Direction.SHORT, price=10.0, volume=100
    )
    alert = rules(severity={"fill": "warning"}).fill(trade)
    assert alert.severity == "warning" and alert.account == "" and "SELL" in alert.title


def test_a_refusal_carries_each_reason_and_is_keyed_by_rule_and_symbol() -> None:
    intent = OrderIntent("i1", "600519.SSE", "buy", "limit", 1000, 1688.0, source="demo-ma")
    rejected = IntentRejected(
        intent,
        (Violation("qty", "max_order_qty", "1,000 shares is over the 500 limit", "1000", "500"),),
        "main",
    )
    alert = rules().refused(rejected)
    assert alert.kind == "reject" and alert.severity == "warning"
    assert "(max_order_qty)" in alert.title and "over the 500 limit" in alert.body
    assert alert.key == "reject:main:max_order_qty:600519.SSE"


def test_a_broker_rejection_alerts_once_per_order() -> None:
    r = rules()
    order = OrderData(
        "main",
        "600519",
        Exchange.SSE,
        "5",
        direction=Direction.LONG,
        volume=100,
        status=Status.REJECTED,
    )
    order.extra = {"reason": "资金不足"}
    first = r.broker_rejected(order)
    assert first is not None and "资金不足" in first.body and first.kind == "reject"
    assert r.broker_rejected(order) is None  # the same update again
    order.status = Status.NOTTRADED
    assert r.broker_rejected(OrderData("main", "1", Exchange.SSE, "6")) is None


def test_halt_and_rearm_and_what_is_not_an_alert() -> None:
    r = rules()
    halt = r.state(TradingStateChanged(TradingState.HALTED, TradingState.ACTIVE, "kill switch", AT))
    assert halt is not None and halt.kind == "halt" and halt.severity == "critical"
    assert halt.key == "halt:" and "kill switch" in halt.body
    rearm = r.state(TradingStateChanged(TradingState.ACTIVE, TradingState.HALTED, "re-armed", AT))
    assert rearm is not None and rearm.kind == "rearm" and rearm.resolves == "halt:"
    back = TradingStateChanged(TradingState.ACTIVE, TradingState.REDUCING, "done", AT)
    assert r.state(back) is None


def test_risk_and_reconciliation_differences_are_critical() -> None:
    r = rules()
    risk = r.risk(RiskAlert("max_daily_loss", "day loss 52,000", 52000.0, 50000.0, "halted", AT))
    assert risk.severity == "critical" and "value 52,000, limit 50,000" in risk.body
    diff = r.reconciled(Reconciled("main", "connected", differences=("cash 100 ≠ 90",)))
    assert diff is not None and diff.kind == "reconcile" and "1 difference" in diff.title
    assert r.reconciled(Reconciled("main", "connected")) is None  # agreed: nothing to say
    failed = r.reconciled(Reconciled("main", "on request", error="timed out"))
    assert failed is not None and "timed out" in failed.body


def test_a_broker_drop_alerts_once_and_coming_back_is_info() -> None:
    r = rules()
    down = ConnectionChanged("main", "DOWN", AT, "socket closed")
    first = r.connection(down)
    assert first is not None and first.severity == "critical" and "socket closed" in first.body
    assert r.connection(down) is None
    up = r.connection(ConnectionChanged("main", "CONNECTED", AT))
    assert up is not None and up.severity == "info" and up.resolves == "broker:main"
    assert r.connection(ConnectionChanged("main", "CONNECTED", AT)) is None
    assert r.connection(ConnectionChanged("other", "CONNECTED", AT)) is None  # a first connect


def test_the_feed_alerts_on_trouble_and_on_stale_quotes_while_it_polls() -> None:
    r = rules()
    ok = FeedStatus("sina", "ok", "continuous", AT)
    assert r.feed(ok) is None
    assert r.health(Reading(feed_age_s=3.0)) == []
    (stale,) = r.health(Reading(feed_age_s=40.0))
    assert stale.kind == "feed" and "STALE" in stale.title and stale.key == "feed:stale"
    assert r.health(Reading(feed_age_s=41.0)) == []  # still stale: said once
    (fresh,) = r.health(Reading(feed_age_s=2.0))
    assert fresh.severity == "info" and fresh.resolves == "feed:stale"
    error = r.feed(FeedStatus("sina", "circuit open", "HTTP 403: banned?", AT, errors=5))
    assert error is not None and "CIRCUIT OPEN" in error.title and "403" in error.body
    assert r.feed(FeedStatus("sina", "circuit open", "still", AT, errors=6)) is None
    back = r.feed(ok)
    assert back is not None and back.severity == "info" and back.resolves == "feed"
    r.feed(FeedStatus("sina", "idle", "lunch until 13:00", AT))
    assert r.health(Reading(feed_age_s=3600.0)) == []  # idle at lunch: old quotes are not stale


def test_new_system_warnings_are_one_alert() -> None:
    r = rules()
    (alert,) = r.health(Reading(warnings=("disk 1.2 GB free (limit 2 GB)",)))
    assert alert.kind == "system" and "disk 1.2 GB free" in alert.title
    assert r.health(Reading(warnings=("disk 1.1 GB free (limit 2 GB)",))) == []  # the same one
    (more,) = r.health(
        Reading(warnings=("disk 1.1 GB free (limit 2 GB)", "memory 95% used (limit 90%)"))
    )
    assert more.title == "System: memory 95% used (limit 90%)"


def test_failed_jobs_and_backups_and_a_crashed_handler() -> None:
    r = rules()
    assert r.job(JobUpdated("daily_sync", "ok", "done", AT)) is None
    sync = r.job(JobUpdated("daily_sync", "failed", "akshare: timed out", AT, 20.0))
    assert sync is not None and sync.kind == "job" and "timed out" in sync.body
    backup = r.job(JobUpdated("backup", "failed", "disk full", AT))
    assert backup is not None and backup.kind == "backup" and backup.severity == "critical"
    crash = r.handler_failed(HandlerFailed("eTick.", "Strategy.on_tick", "ZeroDivisionError()", 1))
    assert crash is not None and crash.kind == "error"
    assert r.handler_failed(HandlerFailed("eTick.", "Strategy.on_tick", "again", 2)) is None
