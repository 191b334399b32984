"""The optional Prometheus endpoint: ``[metrics] port`` (0: off), on 127.0.0.1 by default.

Every scrape reads the services as they are now (a custom collector, nothing cached
between scrapes): each account's equity, cash, day P&L, positions and working
orders, orders refused by rule since the start, the newest quote's age, the bus's
lag and depth, each broker gateway's state and the system monitor's last reading.
For Grafana users; nothing in quantdesk depends on it.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from vnpy.event import Event

from services.bus import Bus
from services.events import EVENT_INTENT_REJECTED, IntentRejected
from services.market import MarketCache
from services.ops.health import HealthMonitor
from services.settings import require

log = logging.getLogger("quantdesk.metrics")

GATEWAY_STATES = ("CONNECTING", "CONNECTED", "RECONNECTING", "DOWN")


@dataclass(frozen=True)
class MetricsConfig:
    """[metrics] in config.toml."""

    port: int = 0
    """The port of the Prometheus endpoint; 0 turns it off."""
    host: str = "127.0.0.1"
    """The address it listens on: this machine only, unless you say otherwise."""

    def __post_init__(self) -> None:
        require(0 <= self.port <= 65535, "port", f"must be 0 (off) to 65535, got {self.port}")
        require(bool(self.host), "host", "must be an address, e.g. 127.0.0.1")


class Observed(Protocol):
    """What a scrape reads (services.runtime.Services, which ops may not import)."""

    desks: list[Any]
    mode: str
    bus: Bus
    market: MarketCache
    health: HealthMonitor | None
    alerts: Any  # services.alerts.service.AlertService (a layer above ops) or None


class QuantdeskCollector(Collector):
    """Reads the services at each scrape."""

    def __init__(self, services: Observed) -> None:
        self.services = services
        self.rejects: Counter[tuple[str, str]] = Counter()  # (account, rule) -> count
        self._lock = threading.Lock()

    def on_rejected(self, event: Event) -> None:
        rejected: IntentRejected = event.data
        with self._lock:
            for violation in rejected.violations:
                self.rejects[(rejected.account, violation.rule)] += 1

    def collect(self) -> Iterator[Metric]:
        s = self.services
        equity = GaugeMetricFamily("quantdesk_equity_cny", "Account equity", labels=["account"])
        cash = GaugeMetricFamily("quantdesk_cash_cny", "Account cash", labels=["account"])
        day = GaugeMetricFamily("quantdesk_day_pnl_cny", "Day P&L", labels=["account"])
        halted = GaugeMetricFamily(
            "quantdesk_trading_halted", "1 while the account is HALTED", labels=["account"]
        )
        qty = GaugeMetricFamily(
            "quantdesk_position_shares", "Shares held", labels=["account", "symbol"]
        )
        value = GaugeMetricFamily(
            "quantdesk_position_value_cny", "Position market value", labels=["account", "symbol"]
        )
        working = GaugeMetricFamily(
            "quantdesk_orders_working", "Orders working", labels=["account"]
        )
        for desk in s.desks:
            account = desk.id or s.mode.lower()
            view = desk.portfolio.view()
            equity.add_metric([account], view.equity)
            cash.add_metric([account], view.cash)
            day.add_metric([account], view.day_pnl)
            halted.add_metric([account], float(desk.control.state.name == "HALTED"))
            working.add_metric([account], len(desk.orders.working_ids()))
            for p in view.positions:
                qty.add_metric([account, p.vt_symbol], p.qty)
                value.add_metric([account, p.vt_symbol], p.market_value)
        yield from (equity, cash, day, halted, qty, value, working)
        rejects = CounterMetricFamily(
            "quantdesk_orders_rejected", "Orders refused, by rule", labels=["account", "rule"]
        )
        with self._lock:
            counts = dict(self.rejects)
        for (account, rule), n in sorted(counts.items()):
            rejects.add_metric([account or s.mode.lower(), rule], n)
        yield rejects
        stats = s.bus.stats()
        yield GaugeMetricFamily("quantdesk_bus_lag_ms", "Bus dispatch lag", value=stats.lag_ms)
        yield GaugeMetricFamily("quantdesk_bus_depth", "Events waiting", value=stats.depth)
        age = s.market.newest_age()
        if age is not None:
            yield GaugeMetricFamily("quantdesk_quote_age_seconds", "Newest quote's age", value=age)
        if s.health is not None:
            gateway = GaugeMetricFamily(
                "quantdesk_gateway_state",
                "1 for the broker gateway's current state",
                labels=["account", "state"],
            )
            for account, now in sorted(s.health.gateways.items()):
                for state in GATEWAY_STATES:
                    gateway.add_metric([account, state], float(now == state))
            yield gateway
            h = s.health.latest
            if h is not None:
                for name, help_, v in (
                    ("quantdesk_cpu_percent", "Machine CPU use", h.cpu_pct),
                    ("quantdesk_memory_percent", "Machine memory use", h.mem_pct),
                    ("quantdesk_disk_free_gb", "Free disk of the data directory", h.disk_free_gb),
                    ("quantdesk_rss_mb", "quantdesk's resident memory", h.rss_mb),
                    ("quantdesk_journal_mb", "Journals' size", h.journal_mb),
                ):
                    yield GaugeMetricFamily(name, help_, value=v)
        if s.alerts is not None:
            yield from _alert_metrics(s.alerts.states())


def _alert_metrics(states: list[Any]) -> Iterator[Metric]:
    """Each alert channel's deliveries: sent and given up (counters), waiting, failing."""
    sent = CounterMetricFamily("quantdesk_alerts_sent", "Alerts delivered", labels=["channel"])
    failed = CounterMetricFamily(
        "quantdesk_alerts_failed", "Alerts given up after every retry", labels=["channel"]
    )
    waiting = GaugeMetricFamily(
        "quantdesk_alerts_waiting", "Alerts pending or held by the rate limit", labels=["channel"]
    )
    failing = GaugeMetricFamily(
        "quantdesk_alerts_channel_failing", "1 while the channel fails", labels=["channel"]
    )
    for state in states:
        sent.add_metric([state.name], state.sent)
        failed.add_metric([state.name], state.failed)
        waiting.add_metric([state.name], state.pending + state.held)
        failing.add_metric([state.name], float(bool(state.error)))
    yield from (sent, failed, waiting, failing)


class MetricsServer:
    """The endpoint's lifetime: :meth:`start` binds (an error names the port), :meth:`stop`."""

    def __init__(self, services: Observed, config: MetricsConfig) -> None:
        self.config = config
        self.registry = CollectorRegistry(auto_describe=False)
        self.collector = QuantdeskCollector(services)
        self.registry.register(self.collector)
        services.bus.register(EVENT_INTENT_REJECTED, self.collector.on_rejected)
        self._server: WSGIServer | None = None
        self.port = config.port

    def start(self) -> None:
        try:
            server, _ = start_http_server(self.config.port, self.config.host, self.registry)
        except OSError as exc:
            raise OSError(
                f"metrics endpoint: cannot listen on {self.config.host}:{self.config.port} "
                f"({exc.strerror}): pick another [metrics] port, or 0 to turn it off"
            ) from None
        self._server = server
        self.port = int(server.server_address[1])
        log.info("metrics at http://%s:%d/metrics", self.config.host, self.port)

    def stop(self) -> None:
        server: Any = self._server
        if server is not None:
            server.shutdown()
            server.server_close()
            self._server = None
