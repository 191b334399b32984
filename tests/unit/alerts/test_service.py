"""The alert service over a running bus and real channels (apprise's json:// to local HTTP
servers): bursts collapse into a digest, a critical alert is never held, alerts about
one thing are sent once with a count, a failing or hung channel delays neither the bus
nor the other channels, and nothing is lost -- retried, given up visibly, or taken up
again after a restart."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from vnpy.event import Event
from vnpy.trader.constant import Direction, Exchange
from vnpy.trader.object import TradeData

from services.alerts.channels import Channel
from services.alerts.config import AlertsConfig
from services.alerts.outbox import Outbox
from services.alerts.rules import AlertRules
from services.alerts.service import AlertService
from services.bus import Bus
from services.events import (
    EVENT_ALERT_DELIVERY,
    EVENT_TRADE,
    EVENT_TRADING_STATE_CHANGED,
    AlertDelivery,
    TradingState,
    TradingStateChanged,
)
from tests.alert_servers import HTTPStandIn, Script
from tests.unit.alerts.conftest import json_channel


@pytest.fixture
def bus() -> Iterator[Bus]:
    b = Bus()
    b.start()
    yield b
    b.stop()


def start(bus: Bus, data_dir: Path, channels: list[Channel], **config: object) -> AlertService:
    cfg = AlertsConfig(channels=tuple(c.config for c in channels), **config)  # type: ignore[arg-type]
    service = AlertService(bus, cfg, channels, data_dir, AlertRules(cfg))
    service.register()
    service.start()
    return service


def fill(n: int) -> Event:
    return Event(
        EVENT_TRADE,
        TradeData(
            "SIM",
            "600519",
            Exchange.SSE,
            f"o{n}",
            f"t{n}",
            Direction.LONG,
            price=1688.0,
            volume=100,
        ),
    )


def halt(reason: str, state: TradingState = TradingState.HALTED) -> Event:
    previous = TradingState.ACTIVE if state is TradingState.HALTED else TradingState.HALTED
    return Event(
        EVENT_TRADING_STATE_CHANGED,
        TradingStateChanged(state, previous, reason, datetime.now()),
    )


def titles(server: HTTPStandIn) -> list[str]:
    return [r.json()["title"] for r in server.requests]


def test_a_burst_goes_out_as_the_rate_allows_the_rest_as_one_digest(
    bus: Bus, tmp_path: Path, http: HTTPStandIn
) -> None:
    service = start(bus, tmp_path, [json_channel(http)], per_minute=3, dedupe_s=0)
    try:
        for n in range(20):
            bus.put(fill(n))
        http.wait(3)
        time.sleep(0.3)
        assert len(http.requests) == 3  # 2 alone, then the last send the bucket allows
        first, _, third = http.requests
        assert "Filled BUY 100 600519.SSE" in first.json()["title"]
        assert third.json()["title"] == "quantdesk: 18 alerts (18 fill)"
        lines = third.json()["message"].splitlines()
        assert len(lines) == 18 and all("Filled BUY 100 600519.SSE" in line for line in lines)
        state = service.states()[0]
        assert (state.sent, state.pending, state.held) == (20, 0, 0)
        bus.put(halt("kill switch (ctrl+k)"))  # the bucket is empty: a HALT still goes now
        http.wait(4, timeout=3)
        assert titles(http)[3] == "Trading HALTED"
        bus.put(fill(99))  # an ordinary alert waits for the bucket
        time.sleep(0.5)
        assert len(http.requests) == 4
        assert service.states()[0].held == 1
    finally:
        service.stop()
    stored = Outbox(tmp_path / "alerts.sqlite3")
    rows = stored.recent(100)
    assert sum(r.state == "sent" for r in rows) == 21
    assert sum(r.digest for r in rows) == 18
    assert [r.state for r in rows if r.alert.key == "fill:SIM.t99"] == ["pending"]  # kept


def test_alerts_about_one_thing_are_sent_once_then_with_a_count(
    bus: Bus, tmp_path: Path, http: HTTPStandIn
) -> None:
    service = start(bus, tmp_path, [json_channel(http)], dedupe_s=0.5, per_minute=60)
    try:
        for n in range(5):
            bus.put(halt(f"breach {n}"))
        http.wait(1)
        time.sleep(0.2)
        assert len(http.requests) == 1
        http.wait(2, timeout=4)  # the window closes: its count goes out
        repeat = http.requests[1].json()
        assert repeat["title"].startswith("Trading HALTED (×4 more since ")
        assert "breach 4" in repeat["message"]  # the latest of them
    finally:
        service.stop()
    (first,) = [r for r in Outbox(tmp_path / "alerts.sqlite3").query("WHERE a.id = 1", (), limit=1)]
    assert first.alert.body.startswith("breach 0")


def test_a_rearm_ends_the_halts_window_so_the_order_of_events_is_kept(
    bus: Bus, tmp_path: Path, http: HTTPStandIn
) -> None:
    service = start(bus, tmp_path, [json_channel(http)], dedupe_s=60, per_minute=60)
    try:
        bus.put(halt("first"))
        bus.put(halt("second"))  # collapsed into the first
        http.wait(1)
        bus.put(halt("re-armed", TradingState.ACTIVE))
        http.wait(3)
        assert titles(http) == [
            "Trading HALTED",
            titles(http)[1],
            "Trading ACTIVE (was HALTED)",
        ]
        assert titles(http)[1].startswith("Trading HALTED (×1 more since")
    finally:
        service.stop()


def test_a_failing_channel_retries_without_holding_the_bus_or_the_others(
    bus: Bus, tmp_path: Path, http: HTTPStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    healthy = HTTPStandIn()
    changes: list[AlertDelivery] = []
    bus.register(EVENT_ALERT_DELIVERY, lambda e: changes.append(e.data))
    http.script = Script(status=500, body=b"{}")
    caplog.set_level(logging.WARNING, "quantdesk.alerts")
    service = start(
        bus,
        tmp_path,
        [json_channel(http, "phone"), json_channel(healthy, "mail")],
        retry_s=0.2,
        per_minute=60,
    )
    try:
        bus.put(halt("max_daily_loss"))
        healthy.wait(1)  # the other channel is not held up
        http.wait(2, timeout=5)  # tried, failed, tried again
        t0 = time.perf_counter()
        for n in range(200):
            bus.put(fill(n))
        assert bus.wait_idle(2)
        assert time.perf_counter() - t0 < 1.0  # the bus never waits on a delivery
        state = {s.name: s for s in service.states()}["phone"]
        assert state.error and "500" in state.error and state.pending >= 1
        assert any("alerts/phone failing" in w for w in service.warnings())
        http.script = Script()  # the service is back
        assert service.wait_idle(10)
    finally:
        service.stop()
        healthy.close()
    delivered = [r.state for r in Outbox(tmp_path / "alerts.sqlite3").recent(500)]
    assert "pending" not in delivered and "failed" not in delivered
    assert [c.ok for c in changes] == [False, True]  # failing once, then back
    assert any("alert channel phone failing" in r.getMessage() for r in caplog.records)


def test_a_hung_channel_times_out_and_the_alert_is_not_lost(
    bus: Bus, tmp_path: Path, http: HTTPStandIn
) -> None:
    http.script = Script(delay_s=2.5)
    service = start(bus, tmp_path, [json_channel(http, timeout_s=1.0)], retry_s=0.2)
    try:
        bus.put(halt("broker down"))
        http.wait(1)
        t0 = time.perf_counter()
        for n in range(100):
            bus.put(fill(n))
        assert bus.wait_idle(2) and time.perf_counter() - t0 < 1.0
        time.sleep(1.3)
        assert service.states()[0].error  # timed out: failing, the alert still waits
        http.script = Script()
        assert service.wait_idle(15)
    finally:
        service.stop()
    rows = Outbox(tmp_path / "alerts.sqlite3").recent(500)
    halt_row = next(r for r in rows if r.alert.kind == "halt")
    assert halt_row.state == "sent" and halt_row.attempts >= 2


def test_an_alert_is_given_up_after_its_retries_and_shown_as_failed(
    bus: Bus, tmp_path: Path, http: HTTPStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    http.script = Script(status=500, body=b"{}")
    caplog.set_level(logging.ERROR, "quantdesk.alerts")
    service = start(bus, tmp_path, [json_channel(http)], retries=1, retry_s=0.1)
    try:
        bus.put(halt("kill switch"))
        http.wait(2, timeout=5)
        deadline = time.monotonic() + 5
        while service.states()[0].failed == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert service.states()[0].failed == 1
    finally:
        service.stop()
    (row,) = Outbox(tmp_path / "alerts.sqlite3").recent(5, "failed")
    assert row.alert.title == "Trading HALTED" and row.attempts == 2 and "500" in row.error
    assert any(
        "alert NOT delivered to phone after 2 tries" in r.getMessage() for r in caplog.records
    )


def test_what_was_pending_at_a_stop_is_delivered_at_the_next_start(
    bus: Bus, tmp_path: Path, http: HTTPStandIn
) -> None:
    http.script = Script(status=503, body=b"{}")
    service = start(bus, tmp_path, [json_channel(http)], retry_s=30)
    bus.put(halt("before the restart"))
    http.wait(1)
    service.stop()  # the channel never took it: it stays pending on disk
    http.script = Script()
    again = start(bus, tmp_path, [json_channel(http)])
    try:
        http.wait(2)
        assert http.requests[1].json()["message"].startswith("before the restart")
        assert again.wait_idle(5)
    finally:
        again.stop()


def test_an_outbox_that_cannot_be_written_does_not_stop_delivery(
    bus: Bus, tmp_path: Path, http: HTTPStandIn
) -> None:
    service = start(bus, tmp_path, [json_channel(http)])
    service.outbox._db.execute("PRAGMA query_only = 1")  # every write now fails in SQLite
    try:
        bus.put(halt("disk full"))
        http.wait(1)
        assert service.outbox.error and "readonly" in service.outbox.error
        assert any("alerts/outbox not written" in w for w in service.warnings())
    finally:
        service.stop()


def test_raise_alert_waits_for_each_channels_outcome(
    bus: Bus, tmp_path: Path, http: HTTPStandIn
) -> None:
    down = HTTPStandIn()
    down.script = Script(status=500, body=b"{}")
    service = start(
        bus, tmp_path, [json_channel(http, "phone"), json_channel(down, "mail")], retries=0
    )
    try:
        alert = service.rules.make("summary", "day: +1,200 CNY", "3 fills", "summary")
        outcome = service.raise_alert(alert, wait_s=10)
        assert outcome["phone"] == "sent"
        assert outcome["mail"].startswith("failed: ") and "500" in outcome["mail"]
    finally:
        service.stop()
        down.close()


def test_a_digest_of_many_lists_the_first_and_says_how_many_more() -> None:
    from services.alerts.delivery import DIGEST_LINES, Item, digest
    from services.alerts.model import Alert

    items = [
        Item(
            n, Alert("reject" if n % 3 else "halt", "warning", f"a{n}", "", f"k{n}", datetime.now())
        )
        for n in range(30)
    ]
    title, body, severity = digest(items)
    assert title == "quantdesk: 30 alerts (20 reject, 10 halt)"
    lines = body.splitlines()
    assert len(lines) == DIGEST_LINES + 1
    assert lines[-1] == f"… and {30 - DIGEST_LINES} more: quantdesk alerts list"
    assert severity == "warning"
