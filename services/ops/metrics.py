"""The optional Prometheus endpoint: ``[metrics] port`` (0: off), on 127.0.0.1 by default.

The scrape shows the account (equity, cash, positions), and a port on 127.0.0.1 is open
to every user of the machine: each request must carry ``Authorization: Bearer TOKEN``,
the token in ``<data dir>/metrics.token`` (0600, made at the first start), which
Prometheus reads with ``authorization: credentials_file``. Anything else gets 401.

Every scrape reads the services as they are now (a custom collector, nothing cached
between scrapes): each account's equity, cash, day P&L, positions and working
orders, orders refused by rule since the start, the newest quote's age, the bus's
lag and depth, each broker gateway's state and the system monitor's last reading.
For Grafana users; nothing in quantdesk depends on it.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import socket
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any, Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from vnpy.event import Event

from services.bus import Bus
from services.events import EVENT_INTENT_REJECTED, IntentRejected
from services.market import MarketCache
from services.ops.health import HealthMonitor
from services.ops.redact import remember
from services.settings import require

log = logging.getLogger("quantdesk.metrics")

GATEWAY_STATES = ("CONNECTING", "CONNECTED", "RECONNECTING", "DOWN")
TOKEN_FILE = "metrics.token"


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


def metrics_token(path: Path) -> str:
    """The endpoint's bearer token: read from ``path``, or made there (0600, written whole
    under a temporary name) at the first start. Masked in every log line."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        token = ""
    if not token:
        token = secrets.token_urlsafe(32)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(token + "\n")
        os.replace(tmp, path)
    remember(token)
    return token


def guarded(app: WSGIApplication, token: str) -> WSGIApplication:
    """``app`` behind ``Authorization: Bearer token`` (compared in constant time)."""
    expected = f"Bearer {token}".encode()

    def serve(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        given = str(environ.get("HTTP_AUTHORIZATION", "")).encode()
        if not hmac.compare_digest(given, expected):
            start_response(
                "401 Unauthorized",
                [
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("WWW-Authenticate", 'Bearer realm="quantdesk"'),
                ],
            )
            return [b"quantdesk metrics: send Authorization: Bearer <the token in metrics.token>\n"]
        return app(environ, start_response)

    return serve


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No request lines on stderr: the console owns the terminal."""


class _Threaded(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Threaded6(_Threaded):
    address_family = socket.AF_INET6


class MetricsServer:
    """The endpoint's lifetime: :meth:`start` binds (an error names the port), :meth:`stop`."""

    def __init__(self, services: Observed, config: MetricsConfig, token_file: Path) -> None:
        self.config = config
        self.token_file = token_file
        self.token = ""
        self.registry = CollectorRegistry(auto_describe=False)
        self.collector = QuantdeskCollector(services)
        self.registry.register(self.collector)
        services.bus.register(EVENT_INTENT_REJECTED, self.collector.on_rejected)
        self._server: WSGIServer | None = None
        self.port = config.port

    def start(self) -> None:
        self.token = metrics_token(self.token_file)
        app = guarded(make_wsgi_app(self.registry), self.token)
        kind = _Threaded6 if ":" in self.config.host else _Threaded
        try:
            server = make_server(
                self.config.host, self.config.port, app, kind, handler_class=_Quiet
            )
        except OSError as exc:
            raise OSError(
                f"metrics endpoint: cannot listen on {self.config.host}:{self.config.port} "
                f"({exc.strerror}): pick another [metrics] port, or 0 to turn it off"
            ) from None
        threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
        self._server = server
        self.port = int(server.server_address[1])
        log.info(
            "metrics at http://%s:%d/metrics (bearer token in %s)",
            self.config.host,
            self.port,
            self.token_file,
        )

    def stop(self) -> None:
        server: Any = self._server
        if server is not None:
            server.shutdown()
            server.server_close()
            self._server = None
