"""The accounts bar: with several live accounts, each one's state, broker link and equity.

One line under the header, shown only when more than one account trades. The
header above speaks for the selected account (the one the positions, orders and
ticket are for); this line keeps every other account in sight, so a HALT of an
account not on screen is never missed.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from panes.format import palette
from services.events import TradingState


@dataclass(frozen=True)
class AccountLine:
    """What the bar shows of one account."""

    id: str
    state: TradingState
    link: str = ""  # the broker connection in words ("" until it is known)
    link_warn: bool = False  # not connected
    equity: float | None = None
    day_pnl: float = 0.0
    selected: bool = False


SYMBOL = {TradingState.ACTIVE: "●", TradingState.REDUCING: "◐", TradingState.HALTED: "■"}


class AccountsBar(Static):
    """Dumb: the App sets :attr:`accounts`; nothing here acts."""

    accounts: reactive[tuple[AccountLine, ...]] = reactive(())
    hint = ""  # how to switch accounts (the key, as configured)

    def watch_accounts(self, accounts: tuple[AccountLine, ...]) -> None:
        self.display = len(accounts) > 1

    def render(self) -> Text:
        width = self.size.width or 10_000
        for detail in (2, 1, 0):  # fewer words per account until the line fits
            line = self._line(detail)
            if line.cell_len <= width:
                return line
        line.truncate(width - 1)
        line.append("…")
        return line

    def _line(self, detail: int) -> Text:
        out = Text(" accounts ", style="dim")
        for i, a in enumerate(self.accounts):
            if i:
                out.append(" │ ", style="dim")
            out.append_text(_part(a, detail))
        if detail == 2 and self.hint:
            out.append(f"   {self.hint}", style="dim")
        return out


def _part(a: AccountLine, detail: int) -> Text:
    """One account: ``▶main ● ACTIVE broker ● 1,000,000 +1,234``; ``detail`` 1 drops the
    broker unless it is down, 0 keeps the id, the state and the equity."""
    halted = a.state is TradingState.HALTED
    reducing = a.state is TradingState.REDUCING
    state_style = "bold reverse red" if halted else "bold yellow" if reducing else ""
    text = Text()
    text.append("▶" if a.selected else " ", style="bold")
    text.append(a.id, style="bold" if a.selected else "")
    text.append(" ")
    text.append(f"{SYMBOL.get(a.state, '?')} {a.state.value}", style=state_style)
    if a.link and (detail >= 2 or a.link_warn):
        text.append(f" {a.link}", style="bold reverse red" if a.link_warn else "dim")
    if a.equity is not None:
        text.append(f" {a.equity:,.0f}")
        if detail >= 1:
            style = palette.up if a.day_pnl > 0 else palette.down if a.day_pnl < 0 else "dim"
            text.append(f" {a.day_pnl:+,.0f}", style=style)
    return text
