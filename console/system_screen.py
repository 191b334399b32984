"""The system monitor (M): the machine, this process, the bus, the feed, the journals
and each broker gateway, against the ``[monitor]`` thresholds."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Static

from panes.footer import KeyFooter
from panes.format import cst
from panes.keys import bindings
from services.alerts.model import ChannelState
from services.alerts.service import AlertService
from services.alerts.telegram import TelegramControl
from services.ops.health import Health, HealthMonitor


class SystemScreen(Screen[None]):
    BINDINGS = bindings("system")

    def __init__(
        self,
        monitor: HealthMonitor,
        alerts: AlertService | None = None,
        remote: TelegramControl | None = None,
    ) -> None:
        super().__init__()
        self.monitor = monitor
        self.alerts = alerts
        self.remote = remote

    def compose(self) -> ComposeResult:
        with Vertical(id="system-body"):
            yield Static("", id="system-table")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.refresh_reading()
        self.set_interval(2.0, self.refresh_reading)

    def refresh_reading(self) -> None:
        channels = self.alerts.states() if self.alerts is not None else None
        remote = (self.remote.state, self.remote.working) if self.remote is not None else None
        self.query_one("#system-table", Static).update(
            render(self.monitor.read(), self.monitor, channels, remote)
        )

    def action_close(self) -> None:
        self.app.pop_screen()


def render(
    h: Health,
    monitor: HealthMonitor,
    channels: list[ChannelState] | None = None,
    remote: tuple[str, bool] | None = None,
) -> Table:
    """Every reading with its limit; a crossed one in reverse. ``channels``: the alert
    channels' deliveries (None: alerting is not configured); ``remote``: phone control's
    state and whether it works (None: off)."""
    cfg = monitor.config
    table = Table(
        title=f"System monitor · read {cst(h.at)} · every {cfg.interval_s:g} s",
        title_justify="left",
        expand=True,
    )
    table.add_column("What")
    table.add_column("Now", justify="right")
    table.add_column(Text("Limit ([monitor])"), justify="right")  # not markup
    warned = " ".join(h.warnings)

    def row(what: str, now: str, limit: str = "", key: str = "") -> None:
        style = "bold reverse yellow" if key and key in warned else ""
        table.add_row(Text(what), Text(now, style=style), Text(limit))  # paths: no markup

    def off(value: float, text: str) -> str:
        return text if value else "off"

    row("CPU (machine)", f"{h.cpu_pct:.0f}%", off(cfg.cpu_pct, f"{cfg.cpu_pct:g}%"), "CPU")
    row(
        "Memory (machine)",
        f"{h.mem_pct:.0f}% used · {h.mem_available_mb:,.0f} MB free",
        off(cfg.mem_pct, f"{cfg.mem_pct:g}%"),
        "memory",
    )
    row(
        f"Disk of {monitor.data_dir}",
        f"{h.disk_free_gb:,.1f} GB free ({h.disk_used_pct:.0f}% used)",
        off(cfg.disk_free_gb, f"{cfg.disk_free_gb:g} GB"),
        "disk",
    )
    row("Network I/O", f"↑ {h.net_sent_kbs:,.1f} kB/s · ↓ {h.net_recv_kbs:,.1f} kB/s")
    row("quantdesk RSS · threads", f"{h.rss_mb:,.0f} MB · {h.threads}")
    row(
        "Bus lag · depth · handler errors",
        f"{h.bus_lag_ms:.1f} ms · {h.bus_depth:,} · {h.bus_failures:,}",
        off(cfg.bus_lag_ms, f"{cfg.bus_lag_ms:g} ms"),
        "bus",
    )
    age = "no quote yet" if h.feed_age_s is None else f"{h.feed_age_s:,.1f} s"
    row("Newest quote's age", age)
    row("Journals", f"{h.journal_mb:,.1f} MB")
    for account, state in sorted(h.gateways.items()):
        style = "" if state == "CONNECTED" else "bold reverse red"
        table.add_row(Text(f"Broker gateway {account}"), Text(state, style=style), "")
    if channels is None:
        table.add_row(Text("Alerts"), Text("no channel configured ([alerts.channels])"), "")
    for c in channels or ():
        style = "bold reverse red" if c.error else ""
        table.add_row(Text(f"Alerts to {c.name} ({c.target})"), Text(c.line(), style=style), "")
    if remote is not None:
        state, working = remote
        table.add_row(
            Text("Phone control (Telegram)"),
            Text(state, style="" if working else "bold reverse red"),
            "",
        )
    if h.warnings:
        table.caption = Text("Over a limit: " + "; ".join(h.warnings))
    return table
