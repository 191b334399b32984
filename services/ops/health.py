"""The machine's and the process's health, read every few seconds.

What the system monitor screen (``M``), the header's one-line summary and the
metrics endpoint show: CPU, memory, free disk of the data directory, network I/O,
this process's RSS and threads, the bus's lag and depth, the feed's age, the
journals' size and each broker gateway's state. A reading that crosses a
``[monitor]`` threshold is a warning: logged when it starts and when it ends, and
published with the reading (:data:`services.events.EVENT_HEALTH`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import psutil
from vnpy.event import Event

from services.bus import Bus, BusStats
from services.events import EVENT_HEALTH, ConnectionChanged
from services.settings import require

log = logging.getLogger("quantdesk.health")


@dataclass(frozen=True)
class MonitorConfig:
    """[monitor] in config.toml: how often to read, and what is too much."""

    interval_s: float = 5.0
    """Seconds between readings."""
    cpu_pct: float = 90.0
    """Machine CPU use (%) that warns; 0 turns the check off."""
    mem_pct: float = 90.0
    """Machine memory use (%) that warns; 0 turns it off."""
    disk_free_gb: float = 2.0
    """Free space (GB) on the data directory's disk below which it warns; 0: off."""
    bus_lag_ms: float = 250.0
    """Bus dispatch lag (ms) that warns; 0: off."""

    def __post_init__(self) -> None:
        require(self.interval_s >= 0.5, "interval_s", "must be at least 0.5 s")
        for name in ("cpu_pct", "mem_pct"):
            value = getattr(self, name)
            require(0 <= value <= 100, name, f"must be 0-100 (0: off), got {value}")
        require(self.disk_free_gb >= 0, "disk_free_gb", "must be >= 0 (0: off)")
        require(self.bus_lag_ms >= 0, "bus_lag_ms", "must be >= 0 (0: off)")


@dataclass(frozen=True)
class Health:
    """One reading."""

    at: datetime
    cpu_pct: float
    mem_pct: float
    mem_available_mb: float
    disk_free_gb: float
    disk_used_pct: float
    net_sent_kbs: float
    net_recv_kbs: float
    rss_mb: float
    threads: int
    bus_lag_ms: float
    bus_depth: int
    bus_failures: int
    feed_age_s: float | None  # the newest quote's age; None before any
    journal_mb: float
    gateways: dict[str, str] = field(default_factory=dict)  # account -> CONNECTED, DOWN, ...
    warnings: tuple[str, ...] = ()

    def line(self) -> str:
        """The header's summary: ``cpu 12% mem 41% disk 120G rss 310M``."""
        return (
            f"cpu {self.cpu_pct:.0f}% mem {self.mem_pct:.0f}% disk {self.disk_free_gb:,.0f}G "
            f"rss {self.rss_mb:,.0f}M"
        )


class HealthMonitor:
    """Reads :class:`Health` every ``interval_s`` on its own thread and publishes it."""

    def __init__(
        self,
        bus: Bus,
        data_dir: Path,
        config: MonitorConfig,
        *,
        feed_age: Callable[[], float | None],
        journals: Callable[[], list[Path]],
    ) -> None:
        self.bus, self.data_dir, self.config = bus, data_dir, config
        self.feed_age, self.journals = feed_age, journals
        self.gateways: dict[str, str] = {}
        self.latest: Health | None = None
        self.extra: Callable[[], list[str]] = list  # more warnings (a failing alert channel)
        self._process = psutil.Process()
        self._net = (time.monotonic(), psutil.net_io_counters())
        self._warned: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        psutil.cpu_percent(None)  # the first call only starts the measurement

    def on_connection(self, event: Event) -> None:
        change: ConnectionChanged = event.data
        self.gateways[change.gateway] = change.state

    def read(self) -> Health:
        """A reading now (any thread)."""
        cfg = self.config
        now = time.monotonic()
        net = psutil.net_io_counters()
        then, before = self._net
        span = max(now - then, 1e-3)
        self._net = (now, net)
        memory = psutil.virtual_memory()
        disk = psutil.disk_usage(str(self.data_dir))
        stats: BusStats = self.bus.stats()
        with self._process.oneshot():
            rss = self._process.memory_info().rss
            threads = self._process.num_threads()
        journal_bytes = sum(  # with the write-ahead log: what was written, checkpointed or not
            f.stat().st_size
            for p in self.journals()
            for f in (p, p.with_name(p.name + "-wal"))
            if f.exists()
        )
        health = Health(
            at=datetime.now(),
            cpu_pct=psutil.cpu_percent(None),
            mem_pct=memory.percent,
            mem_available_mb=memory.available / 1e6,
            disk_free_gb=disk.free / 1e9,
            disk_used_pct=disk.percent,
            net_sent_kbs=(net.bytes_sent - before.bytes_sent) / span / 1e3,
            net_recv_kbs=(net.bytes_recv - before.bytes_recv) / span / 1e3,
            rss_mb=rss / 1e6,
            threads=threads,
            bus_lag_ms=stats.lag_ms,
            bus_depth=stats.depth,
            bus_failures=stats.failures,
            feed_age_s=self.feed_age(),
            journal_mb=journal_bytes / 1e6,
            gateways=dict(self.gateways),
        )
        warnings = []
        if cfg.cpu_pct and health.cpu_pct >= cfg.cpu_pct:
            warnings.append(f"CPU {health.cpu_pct:.0f}% (limit {cfg.cpu_pct:g}%)")
        if cfg.mem_pct and health.mem_pct >= cfg.mem_pct:
            warnings.append(f"memory {health.mem_pct:.0f}% used (limit {cfg.mem_pct:g}%)")
        if cfg.disk_free_gb and health.disk_free_gb < cfg.disk_free_gb:
            warnings.append(
                f"disk {health.disk_free_gb:.1f} GB free (limit {cfg.disk_free_gb:g} GB)"
            )
        if cfg.bus_lag_ms and health.bus_lag_ms >= cfg.bus_lag_ms:
            warnings.append(f"bus lag {health.bus_lag_ms:.0f} ms (limit {cfg.bus_lag_ms:g} ms)")
        warnings += self.extra()
        health = replace(health, warnings=tuple(warnings))
        self._log_changes(health)
        self.latest = health
        return health

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="health", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.config.interval_s):
            try:
                self.bus.publish(EVENT_HEALTH, self.read())
            except Exception:  # psutil on a strange system: say so, keep the trading going
                log.exception("health reading failed")

    def _log_changes(self, health: Health) -> None:
        kinds = {w.split(" ", 1)[0]: w for w in health.warnings}
        for kind in kinds.keys() - self._warned:
            log.warning("system: %s", kinds[kind])
        for kind in self._warned - kinds.keys():
            log.info("system: %s back within its limit", kind)
        self._warned = set(kinds)
