"""The status header: mode, trading state, equity, day P&L, clock, bus health."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from panes.format import money, palette
from services.book import AccountView
from services.bus import BusStats
from services.events import TradingState

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

    def watch_state(self, state: TradingState) -> None:
        self.set_class(state is TradingState.HALTED, "-halted")
        self.set_class(state is TradingState.REDUCING, "-reducing")

    def render(self) -> Text:
        parts = Text.assemble((f" {self.mode} ", "bold reverse"), " ")
        if self.state is TradingState.HALTED:
            why = f" — {self.state_reason}" if self.state_reason else ""
            parts.append(f"■ HALTED{why} · ctrl+r to re-arm ", style="bold")
        else:
            parts.append(f"● {self.state.value} ", style="bold")
        if self.account is not None:
            a = self.account
            style = palette.up if a.day_pnl > 0 else palette.down if a.day_pnl < 0 else ""
            parts.append(f" Equity {money(a.equity)}  Cash {money(a.cash)}  Day P&L ")
            parts.append(f"{a.day_pnl:+,.2f} ({a.day_pnl_pct * 100:+.2f}%)", style=style)
        if self.clock is not None:
            parts.append(f"   {self.clock:%Y-%m-%d %H:%M:%S}")
        if self.bus is not None:
            b = self.bus
            warn = b.lag_ms > LAG_WARN_MS or b.depth > DEPTH_WARN or b.failures
            text = f"   bus {b.lag_ms:.1f} ms / {b.depth}"
            if b.failures:
                text += f" / {b.failures} errors"
            parts.append(text, style="bold yellow" if warn else "dim")
        return parts
