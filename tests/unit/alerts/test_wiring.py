"""Alerting attached to the real services: a fill, a refused order and the kill switch on
the simulated market reach the channel; the daily summary says what the ledger and the
journal say and the job reports where it went; a failing channel shows in the system
monitor; the outbox is in the backup."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.alerts.config import AlertsConfig
from services.alerts.wiring import Alerting
from services.events import OrderIntent
from services.ops.backup import take_backup
from services.ops.scheduler import JobsConfig
from services.runtime import Services
from tests.alert_servers import HTTPStandIn, Script
from tests.conftest import make_services
from tests.unit.alerts.conftest import json_channel


def build(data_dir: Path, http: HTTPStandIn, retries: int = 8) -> Services:
    channel = json_channel(http)
    config = AlertsConfig(channels=(channel.config,), per_minute=60, retry_s=0.2, retries=retries)
    services = make_services(
        data_dir,
        jobs=JobsConfig(daily_sync="", backup="", daily_summary="5 15 * * mon-fri"),
        alerting=Alerting(config, (channel,)),
    )
    services.start()
    assert services.bus.wait_idle()
    return services


@pytest.fixture
def console(tmp_path: Path, http: HTTPStandIn) -> Iterator[Services]:
    services = build(tmp_path / "data", http)
    yield services
    services.stop()


def marketable(services: Services, qty: int = 100) -> OrderIntent:
    tick = services.market.get("600519.SSE")
    assert tick is not None
    return OrderIntent(f"b{qty}", "600519.SSE", "buy", "limit", qty, tick.ask_price_1)


def wait_job(services: Services, name: str) -> tuple[str, str]:
    assert services.scheduler.run_now(name)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = next(s for s in services.scheduler.states() if s.name == name)
        if state.last_state and not state.running:
            return state.last_state, state.last_detail
        time.sleep(0.05)
    raise AssertionError(f"job {name} did not finish")


def test_trading_on_the_simulated_market_reaches_the_channel(
    console: Services, http: HTTPStandIn
) -> None:
    assert console.orders.submit(marketable(console)).accepted  # fills at the ask
    assert not console.orders.submit(marketable(console, 150)).accepted  # not a whole lot
    console.kill_switch("kill switch (ctrl+k)")
    http.wait(3)
    assert console.alerts is not None and console.alerts.wait_idle(10)
    titles = [r.json()["title"] for r in http.requests]
    assert any(t.startswith("Filled BUY 100 600519.SSE 贵州茅台 @ ") for t in titles)
    assert any(t.startswith("Refused BUY 150 600519.SSE") and "(lot_size)" in t for t in titles)
    halt = next(r.json() for r in http.requests if r.json()["title"] == "Trading HALTED")
    assert halt["type"] == "failure"  # critical
    assert halt["message"].startswith("kill switch (ctrl+k)")


def test_the_daily_summary_says_what_the_ledger_says(console: Services, http: HTTPStandIn) -> None:
    assert console.orders.submit(marketable(console)).accepted
    assert not console.orders.submit(marketable(console, 150)).accepted
    assert console.bus.wait_idle()
    view = console.portfolio.view()
    state, detail = wait_job(console, "summary")
    assert state == "ok", detail
    assert detail.endswith(": sent to phone")
    summary = next(r.json() for r in http.requests if "day:" in r.json()["title"])
    assert summary["title"].startswith("quantdesk DEMO day: ") and "1 fills" in summary["title"]
    body = summary["message"]
    assert "1 fills: bought " in body and "refused by rule: lot_size ×1" in body
    assert f"equity {view.equity:,.0f}" in body
    assert f"in {len(view.positions)} positions" in body


def test_a_summary_that_cannot_be_sent_fails_its_job(tmp_path: Path, http: HTTPStandIn) -> None:
    console = build(tmp_path, http, retries=0)  # given up at the first failure
    http.script = Script(status=500, body=b"{}")
    try:
        state, detail = wait_job(console, "summary")
        assert state == "failed" and "phone failed: " in detail and "500" in detail
        assert console.health is not None and console.alerts is not None
        console.alerts.sync()  # the courier's report of now (it reports every 0.5 s anyway)
        assert any(w.startswith("alerts/phone failing") for w in console.health.read().warnings)
    finally:
        console.stop()


def test_without_a_channel_the_summary_is_logged_and_says_so(tmp_path: Path) -> None:
    services = make_services(
        tmp_path, jobs=JobsConfig(daily_sync="", backup="", daily_summary="5 15 * * mon-fri")
    )
    services.start()
    try:
        state, detail = wait_job(services, "summary")
    finally:
        services.stop()
    assert state == "ok" and detail.endswith("(in the log; no alert channel is configured)")


def test_the_alert_outbox_is_backed_up(console: Services, http: HTTPStandIn) -> None:
    console.kill_switch("before the backup")
    http.wait(1)
    assert console.alerts is not None and console.alerts.wait_idle(5)
    result = take_backup(console.data_dir, console.data_dir.parent / "backups")
    names = [f.path for f in result.files]
    assert "data/alerts.sqlite3" in names
