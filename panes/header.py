"""The status header: mode, trading state, live feed, equity, day P&L, clock, bus health."""

from __future__ import annotations

import time
from datetime import datetime

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from panes.format import EXCHANGE_LABEL, money, palette
from services.accounting.book import AccountView
from services.bus import BusStats
from services.events import TradingState

REASON = 5  # the halt reason's priority: shortened, then dropped, before anything else
WARNING = -1  # a system warning: never dropped, shortened to WARNING_MIN cells if need be
WARNING_MIN = 28
LAG_WARN_MS = 100.0
DEPTH_WARN = 1000


class StatusHeader(Static):
    """One line; ``-halted`` / ``-reducing`` classes let the stylesheet shout."""

    mode: reactive[str] = reactive("DEMO")
    state: reactive[TradingState] = reactive(TradingState.ACTIVE)
    state_reason: reactive[str] = reactive("")
    account: reactive[AccountView | None] = reactive(None)
    clock: reactive[datetime | None] = reactive(None)
    bus: reactive[BusStats | None] = reactive(None)
    store: reactive[str] = reactive("")  # "STORE UNUSABLE" / "STORE EMPTY" until fixed
    feed: reactive[tuple[str, bool]] = reactive(("", False))  # the live feed: words, warning
    link: reactive[tuple[str, bool]] = reactive(("", False))  # live: the broker connection
    health: reactive[tuple[str, bool]] = reactive(("", False))  # the system: words, warning
    rearm_key: reactive[str] = reactive("ctrl+r")  # [keys] rearm, as the App has it
    _bus_at = 0.0  # when the bus health was last redrawn

    def show_bus(self, stats: BusStats) -> None:
        """Bus health changes with every frame: redraw it at most once a second, or at once
        when a warning starts or ends (a repaint costs terminal bytes over SSH)."""
        now = time.monotonic()
        if self.bus is None or now - self._bus_at >= 1.0 or _warn(stats) != _warn(self.bus):
            self._bus_at = now
            self.bus = stats

    def watch_state(self, state: TradingState) -> None:
        self.set_class(state is TradingState.HALTED, "-halted")
        self.set_class(state is TradingState.REDUCING, "-reducing")

    def render(self) -> Text:
        """One line that fits the terminal: parts give way by priority (the halt reason is
        shortened first, then a system warning to 28 cells, then cash, the clock, day P&L);
        mode, state, the warning and bus health stay."""
        parts = self._parts()
        width = self.size.width or 10_000
        while sum(p.cell_len for _, p in parts) > width:
            over = sum(p.cell_len for _, p in parts) - width
            reason = next((p for prio, p in parts if prio == REASON), None)
            if reason is not None:
                keep = reason.cell_len - over
                if keep >= 12:  # enough to say something: shorten it to fit
                    reason.truncate(keep - 1)
                    reason.append("…")
                else:
                    parts = [(prio, p) for prio, p in parts if prio != REASON]
                continue
            warning = next((p for prio, p in parts if prio == WARNING), None)
            if warning is not None and warning.cell_len > WARNING_MIN:  # M has it whole
                warning.truncate(max(WARNING_MIN, warning.cell_len - over) - 2)
                warning.append("… ")
                continue
            droppable = [prio for prio, _ in parts if prio > 0]
            if not droppable:
                break
            worst = max(droppable)
            parts = [(prio, p) for prio, p in parts if prio != worst]
        out = Text()
        for _, part in parts:
            out.append_text(part)
        return out

    def _parts(self) -> list[tuple[int, Text]]:
        """(priority, text): 0 always shown; higher numbers give way first."""
        badge = "bold reverse red" if self.mode.startswith("LIVE") else "bold reverse"
        parts: list[tuple[int, Text]] = [(0, Text(f" {self.mode} ", style=badge))]
        if self.state is TradingState.HALTED:
            parts.append((0, Text(" ■ HALTED", style="bold")))
            if self.state_reason:
                parts.append((REASON, Text(f" — {self.state_reason}", style="bold")))
            parts.append((0, Text(f" · {self.rearm_key} to re-arm ", style="bold")))
        else:
            parts.append((0, Text(f" ● {self.state.value} ", style="bold")))
        if self.store:
            parts.append((0, Text(f" {self.store} ", style="bold reverse yellow")))
        if self.link[0]:  # a trader must see whether the broker is there
            text, warn = self.link
            parts.append((0, Text(f" {text} ", style="bold reverse red" if warn else "bold")))
        if self.feed[0]:
            text, warn = self.feed
            style = "bold reverse yellow" if warn else "dim"
            parts.append((0, Text(f" {text} ", style=style)))  # a trader must see the feed
        if self.account is not None:
            a = self.account
            style = palette.up if a.day_pnl > 0 else palette.down if a.day_pnl < 0 else ""
            parts.append((1, Text(f" Equity {money(a.equity)}")))
            parts.append((4, Text(f"  Cash {money(a.cash)}")))
            parts.append(
                (
                    2,
                    Text.assemble(
                        "  Day P&L ",
                        (f"{a.day_pnl:+,.2f} ({a.day_pnl_pct * 100:+.2f}%)", style),
                    ),
                )
            )
        if self.clock is not None:  # the market's clock: simulated in the demo, and says so
            label = "sim" if self.mode == "DEMO" else EXCHANGE_LABEL
            parts.append((3, Text(f"   {label} {self.clock:%Y-%m-%d %H:%M:%S}")))
        if self.health[0]:  # a warning stays; the plain summary gives way before anything
            text, warn = self.health
            if warn:  # a full disk or memory stops trading soon: always in sight (shortened)
                parts.append((WARNING, Text(f" {text} ", style="bold reverse yellow")))
            else:
                parts.append((REASON + 1, Text(f"   {text}", style="dim")))
        if self.bus is not None:
            b = self.bus
            warn = _warn(b)
            text = f"   bus {b.lag_ms:.1f} ms / {b.depth}"
            if b.failures:
                text += f" / {b.failures} errors"
            parts.append((0, Text(text, style="bold yellow" if warn else "dim")))
        return parts


def _warn(b: BusStats) -> bool:
    return bool(b.lag_ms > LAG_WARN_MS or b.depth > DEPTH_WARN or b.failures)
