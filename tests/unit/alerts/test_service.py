"""The alert service over a running bus and real channels (apprise's json:// to local HTTP
servers): bursts collapse into a digest, a critical alert is never held, alerts about
one thing are sent once with a count, a failing or hung channel delays neither the bus
nor the other channels, and nothing is lost -- retried, given up visibly, or taken up
again after a restart."""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from vnpy.event import Event
from vnpy.trader.constant import Direction, Exchange
from vnpy.trader.object import TradeData

from services.alerts.channels import Channel
from services.alerts.config import AlertsConfig
from services.alerts.model import ChannelState
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


def until(
    service: AlertService, ok: Callable[[ChannelState], object], name: str = "", timeout: float = 10
) -> ChannelState:
    """Wait for a channel's state (the first one's, or ``name``'s) to be what a test
    asserts -- never for a time: between a retry and its failure the courier may not have
    recorded it yet. Fails with the last state seen."""
    deadline = time.monotonic() + timeout
    while True:
        assert service.sync() is not None
        states = {s.name: s for s in service.states()}
        state = states[name] if name else service.states()[0]
        if ok(state) or time.monotonic() > deadline:
            assert ok(state), state
            return state
        time.sleep(0.02)


def titles(server: HTTPStandIn) -> list[str]:
    return [r.json()["title"] for r in server.requests]


def test_a_burst_is_one_digest_and_the_bucket_holds_what_comes_after(
    bus: Bus, tmp_path: Path, http: HTTPStandIn
) -> None:
    service = start(bus, tmp_path, [json_channel(http)], per_minute=3, dedupe_s=0)
    try:
        bus.put(fill(0))
        (alone,) = http.wait(1)  # within the bucket: alone
        assert alone.json()["title"].startswith("Filled BUY 100 600519.SSE")
        for n in range(1, 21):
            bus.put(fill(n))
        digest = http.wait(2)[1]  # more than the bucket's 2 left: one message carries them
        assert digest.json()["title"] == "quantdesk: 20 alerts (20 fill)"
        lines = digest.json()["message"].splitlines()
        assert len(lines) == 20 and all("Filled BUY 100 600519.SSE" in line for line in lines)
        bus.put(fill(99))  # the digest spent the bucket: this waits (20 s at 3 a minute)
        until(service, lambda s: (s.sent, s.held) == (21, 1))
        assert len(http.requests) == 2
        bus.put(halt("kill switch (ctrl+k)"))  # a HALT never waits for the bucket
        http.wait(3, timeout=3)
        assert titles(http)[2] == "Trading HALTED"
    finally:
        service.stop()
    rows = Outbox(tmp_path / "alerts.sqlite3").recent(100)
    assert sum(r.state == "sent" for r in rows) == 22
    assert sum(r.digest for r in rows) == 20
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
        for n in range(200):
            bus.put(fill(n))
        assert bus.wait_idle(2)  # the bus never waits on a delivery
        # read once the courier has recorded the failure, not between a retry and it
        until(service, lambda s: "500" in s.error and s.pending >= 1, "phone")
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
        for n in range(100):
            bus.put(fill(n))
        assert bus.wait_idle(2)  # within the hung request's 2.5 s: the bus never waited on it
        until(service, lambda s: bool(s.error))  # timed out: failing, the alert still waits
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
        until(service, lambda s: s.failed == 1)
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
    holder = sqlite3.connect(tmp_path / "alerts.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the outbox: writes fail
    try:
        bus.put(halt("outbox locked"))
        http.wait(1, timeout=15)  # delivered all the same
        assert service.wait_idle(15) or True
        report = service.sync()
        assert report is not None
        assert any(
            "alerts/outbox not written (database is locked)" in w for w in report["warnings"]
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
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


def test_an_alert_waited_for_amid_a_burst_gets_its_own_outcome(
    bus: Bus, tmp_path: Path, http: HTTPStandIn
) -> None:
    """The writer encodes a batch a few rows at a time and numbers who waits by row: an
    alert behind forty fills (more than one chunk) gets its own answer -- from "boss",
    which takes summaries only, so an answer tied to a fill would leave it pending --
    and every row reaches the outbox once, in order."""
    channels = [json_channel(http, "phone"), json_channel(http, "boss", kinds=("summary",))]
    service = start(bus, tmp_path, channels, per_minute=600, dedupe_s=0)
    try:
        for n in range(40):
            bus.put(fill(n))
        bus.wait_idle()  # the fills are queued for the writer before the alert
        alert = service.rules.make("summary", "day: +1,200 CNY", "3 fills", "summary")
        assert service.raise_alert(alert, wait_s=10) == {"phone": "sent", "boss": "sent"}
    finally:
        service.stop()
    keys = {r.id: r.alert.key for r in Outbox(tmp_path / "alerts.sqlite3").recent(100)}
    assert [keys[i] for i in sorted(keys)] == [
        *(f"fill:SIM.t{n}" for n in range(40)),
        "summary",
    ]


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
def test_the_courier_runs_as_background_work(bus: Bus, tmp_path: Path, http: HTTPStandIn) -> None:
    """SCHED_IDLE: a thread of the trading process that wakes takes the CPU from it."""
    service = start(bus, tmp_path, [json_channel(http)])
    try:
        assert service._proc is not None
        assert os.sched_getscheduler(service._proc.pid) == os.SCHED_IDLE
        assert os.sched_getscheduler(0) != os.SCHED_IDLE  # the trading process is not
    finally:
        service.stop()


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


def test_a_courier_that_dies_is_started_again_and_nothing_is_lost(
    bus: Bus, tmp_path: Path, http: HTTPStandIn
) -> None:
    service = start(bus, tmp_path, [json_channel(http)], per_minute=60, dedupe_s=0)
    try:
        bus.put(halt("before"))
        http.wait(1)
        assert service._proc is not None
        service._proc.kill()  # the courier crashes
        for n in range(3):
            bus.put(fill(n))  # queued meanwhile: kept until a courier stores them
        http.wait(2, timeout=20)
        assert service.wait_idle(20)
        assert service.restarts == 1
    finally:
        service.stop()
    rows = Outbox(tmp_path / "alerts.sqlite3").recent(10)
    assert sorted(r.alert.key for r in rows if r.state == "sent") == [
        "fill:SIM.t0",
        "fill:SIM.t1",
        "fill:SIM.t2",
        "halt:",
    ]


def test_a_courier_that_cannot_start_is_shown_and_tried_again(
    bus: Bus, tmp_path: Path, http: HTTPStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    import services.alerts.service as service_module

    good = service_module.COURIER
    monkeypatch.setattr(service_module, "COURIER", [sys.executable, "-c", "raise SystemExit(3)"])
    service = start(bus, tmp_path, [json_channel(http)])
    try:
        assert service.warnings() == ["alerts/courier down (see the log)"]
        assert service.down.startswith("the alert courier did not start")
        bus.put(halt("while it is down"))  # kept here meanwhile
        monkeypatch.setattr(service_module, "COURIER", good)
        (request,) = http.wait(1, timeout=20)
        assert request.json()["message"].startswith("while it is down")
        assert service.warnings() == []
    finally:
        service.stop()
