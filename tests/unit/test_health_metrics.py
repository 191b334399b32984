"""The system monitor's readings and thresholds, and the Prometheus endpoint scraped."""

from __future__ import annotations

import logging
import stat
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.events import EVENT_CONNECTION, ConnectionChanged, OrderIntent
from services.ops.health import HealthMonitor, MonitorConfig
from services.ops.metrics import MetricsConfig, MetricsServer
from services.runtime import Services
from services.settings import ConfigValueError


def test_a_reading_is_the_machine_as_psutil_sees_it(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    import psutil

    assert services.health is not None
    h = services.health.read()
    assert 0 <= h.cpu_pct <= 100 and 0 < h.mem_pct < 100
    assert h.disk_free_gb == pytest.approx(
        psutil.disk_usage(str(services.data_dir)).free / 1e9, rel=0.05
    )
    assert h.rss_mb == pytest.approx(psutil.Process().memory_info().rss / 1e6, rel=0.25)
    assert h.threads >= 3 and h.journal_mb > 0
    # Only what this machine can be over while the tests run: nothing of its memory or disk.
    assert [w for w in h.warnings if not w.startswith(("CPU", "bus"))] == []
    assert h.line().startswith(f"cpu {h.cpu_pct:.0f}% mem {h.mem_pct:.0f}%")
    # A limit the machine is over: a warning, logged once when it starts.
    strict = HealthMonitor(
        services.bus,
        services.data_dir,
        MonitorConfig(disk_free_gb=1e9, mem_pct=1, cpu_pct=0, bus_lag_ms=0),
        feed_age=services.market.newest_age,
        journals=lambda: [services.journal.path],
    )
    with caplog.at_level(logging.WARNING, logger="quantdesk.health"):
        first, second = strict.read(), strict.read()
    assert [w.split()[0] for w in first.warnings] == ["memory", "disk"]
    assert first.warnings[1].endswith("(limit 1e+09 GB)")
    assert second.warnings == first.warnings
    # (the started services' own monitor may log a busy CPU meanwhile: not counted)
    logged = [r.getMessage() for r in caplog.records if "CPU" not in r.getMessage()]
    assert sorted(logged) == sorted(f"system: {w}" for w in first.warnings)  # once, not twice
    with pytest.raises(ConfigValueError, match="interval_s"):
        MonitorConfig(interval_s=0.1)


def _scrape(server: MetricsServer) -> dict[str, list[tuple[dict[str, str], float]]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/metrics",
        headers={"Authorization": f"Bearer {server.token}"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        text = response.read().decode()
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def test_the_metrics_endpoint_is_scraped_and_parsed(services: Services) -> None:
    token = services.data_dir / "metrics.token"
    server = MetricsServer(services, MetricsConfig(port=0), token)  # 0: any free port
    server.start()
    try:
        services.gateway.advance(50)  # type: ignore[union-attr]
        tick = services.market.get("600519.SSE")
        assert tick is not None
        assert services.orders.submit(
            OrderIntent("m-1", "600519.SSE", "buy", "limit", 100, tick.ask_price_1)
        ).accepted
        refused = services.orders.submit(
            OrderIntent("m-2", "600519.SSE", "buy", "limit", 10_000_000, tick.ask_price_1)
        )
        assert not refused.accepted
        services.bus.publish(
            EVENT_CONNECTION, ConnectionChanged("main", "RECONNECTING", datetime.now())
        )
        assert services.bus.wait_idle()
        services.health.read()  # type: ignore[union-attr]
        got = _scrape(server)
        view = services.portfolio.view()
        assert got["quantdesk_equity_cny"] == [({"account": "demo"}, pytest.approx(view.equity))]
        assert got["quantdesk_position_shares"] == [
            ({"account": "demo", "symbol": "600519.SSE"}, 100.0)
        ]
        rules = {labels["rule"]: n for labels, n in got["quantdesk_orders_rejected_total"]}
        assert set(rules) == {v.rule for v in refused.violations}
        assert all(n == 1 for n in rules.values())
        states = {labels["state"]: v for labels, v in got["quantdesk_gateway_state"]}
        assert states == {"CONNECTING": 0, "CONNECTED": 0, "RECONNECTING": 1, "DOWN": 0}
        assert got["quantdesk_trading_halted"] == [({"account": "demo"}, 0.0)]
        assert got["quantdesk_quote_age_seconds"][0][1] >= 0
        assert "quantdesk_bus_lag_ms" in got and "quantdesk_disk_free_gb" in got
    finally:
        server.stop()
    with pytest.raises(urllib.error.URLError):
        _scrape(server)


def test_a_scrape_without_the_token_gets_nothing(services: Services) -> None:
    """127.0.0.1 is open to every user of the machine: the account's figures go only to a
    request with the token from the data directory (0600), never to one without it."""
    token = services.data_dir / "metrics.token"
    server = MetricsServer(services, MetricsConfig(port=0), token)
    server.start()
    try:
        assert stat.S_IMODE(token.stat().st_mode) == 0o600
        assert token.read_text().strip() == server.token and len(server.token) >= 40
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": server.token}):
            request = urllib.request.Request(
                f"http://127.0.0.1:{server.port}/metrics", headers=headers
            )
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=5)
            assert refused.value.code == 401
            assert b"quantdesk_equity" not in refused.value.read()
        assert "quantdesk_equity_cny" in _scrape(server)
    finally:
        server.stop()
    again = MetricsServer(services, MetricsConfig(port=0), token)
    again.start()  # the token stays what Prometheus was given
    again.stop()
    assert again.token == server.token


def test_a_port_in_use_is_refused_with_what_to_do(services: Services) -> None:
    token = services.data_dir / "metrics.token"
    first = MetricsServer(services, MetricsConfig(port=0), token)
    first.start()
    try:
        second = MetricsServer(services, MetricsConfig(port=first.port), token)
        with pytest.raises(
            OSError, match=rf"cannot listen on 127.0.0.1:{first.port} .*\[metrics\] port"
        ):
            second.start()
    finally:
        first.stop()
    with pytest.raises(ConfigValueError, match="port"):
        MetricsConfig(port=70_000)


def test_journals_of_every_account_count(tmp_path: Path, services: Services) -> None:
    assert services.health is not None
    before = services.health.read().journal_mb
    services.journal.record("note", "x", {"pad": "y" * 200_000})
    assert services.health.read().journal_mb > before


def test_alert_channels_are_in_the_scrape(tmp_path: Path) -> None:
    from services.alerts.config import AlertsConfig
    from services.alerts.wiring import Alerting
    from tests.alert_servers import HTTPStandIn, Script
    from tests.conftest import make_services
    from tests.unit.alerts.conftest import json_channel

    down = HTTPStandIn()
    down.script = Script(status=500, body=b"{}")
    channel = json_channel(down)
    alerting = Alerting(AlertsConfig(channels=(channel.config,), retry_s=60), (channel,))
    services = make_services(tmp_path, alerting=alerting)
    server = MetricsServer(services, MetricsConfig(port=0), tmp_path / "metrics.token")
    services.start()
    server.start()
    try:
        services.kill_switch("metrics test")
        down.wait(1)
        assert services.alerts is not None
        deadline = time.monotonic() + 5
        while not services.alerts.states()[0].error and time.monotonic() < deadline:
            time.sleep(0.02)
        got = _scrape(server)
        assert got["quantdesk_alerts_channel_failing"] == [({"channel": "phone"}, 1.0)]
        assert got["quantdesk_alerts_waiting"] == [({"channel": "phone"}, 1.0)]
        assert got["quantdesk_alerts_sent_total"] == [({"channel": "phone"}, 0.0)]
    finally:
        server.stop()
        services.stop()
        down.close()
