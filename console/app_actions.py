"""The App's global actions: the palette's kill switch and the kill tap's notice,
re-arm, flatten, reconcile, the next account, the screens (help, risk, system,
backtests), pane focus and quit, and the command palette's list of them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual import on
from textual.app import SystemCommand
from textual.screen import Screen

from console import killtap, trading_dialogs
from console.app_base import DeskApp
from console.backtests import BacktestScreen
from console.dialogs import ConfirmScreen, HelpScreen
from panes.format import count
from panes.orders import Orders
from panes.positions import Positions
from panes.watchlist import Watchlist


class GlobalActions(DeskApp):
    """What the global keys and the palette do."""

    def action_next_account(self) -> None:
        """Show and trade the next live account: positions, orders, header, ticket."""
        if not self.accounts.several:
            self.notify("One account trades here (several: --account A --account B)")
            return
        account = self.accounts.select_next()
        main = self.main
        main.header.mode = self.services.badge(account)
        main.header.link = self.accounts.links.get(account, ("", False))
        view = self.services.portfolio.view()
        main.header.account = view
        main.query_one(Positions).update_account(view)
        main.query_one(Orders).reset(self.accounts.shown_orders())
        self.sync_trading()
        self.notify(
            f"Account {account}: positions, orders, the ticket, {self.key('rearm')}, "
            f"{self.key('flatten')}, {self.key('reconcile')} and {self.key('risk')} are its now"
        )

    def action_reconcile(self) -> None:
        watch = self.services.watch
        if watch is None:
            self.notify(
                "Reconciliation is for a broker account: quantdesk --mode live --account ID"
            )
        elif watch.reconcile("on request"):
            self.notify("Reconciling with the broker…")
        else:
            self.notify("A reconciliation is already running.")

    # -- actions ---------------------------------------------------------------------------
    def action_kill_switch(self) -> None:
        """The palette's kill switch (the key itself is handled by the kill tap)."""
        self._show_killed(self.services.kill_switch("kill switch (palette)"))

    @on(killtap.KillSwitchFired)
    def handle_killed(self, message: killtap.KillSwitchFired) -> None:
        self._show_killed(message.cancelled)

    def _show_killed(self, cancelled: list[str]) -> None:
        self.main.refresh_strategies()
        self.main.refresh_review()
        self.sync_trading()
        self.notify(
            "KILL SWITCH: trading HALTED, cancel sent for "
            f"{count(len(cancelled), 'working order')}, strategies stopped, proposals "
            f"rejected. {self.key('rearm')} to re-arm.",
            severity="error",
            timeout=10,
        )

    def action_rearm(self) -> None:
        trading_dialogs.rearm(self)

    def action_flatten(self) -> None:
        """After a HALT: preview one closing order per position, send them on confirmation."""
        trading_dialogs.flatten(self)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.config.keys))

    def action_risk(self) -> None:
        from console.risk_screen import RiskScreen

        if not isinstance(self.screen, RiskScreen):
            self.push_screen(RiskScreen(self.services.risk, self.services.execution))

    def action_system(self) -> None:
        from console.system_screen import SystemScreen

        s = self.services
        if s.health is not None and not isinstance(self.screen, SystemScreen):
            self.push_screen(SystemScreen(s.health, s.alerts, s.remote))

    def action_backtests(self) -> None:
        if self.backtests is None:
            watchlist = self.main.query_one(Watchlist)
            symbol = watchlist.selected_key or (watchlist.symbols[0] if watchlist.symbols else "")
            self.backtests = BacktestScreen(
                self.services.backtests,
                self.config.backtest,
                symbol,
                self.services.data_dir / "reports",
            )
            # Installed, so popping it keeps it whole: a popped screen that is not
            # installed is removed, and pushing that instance again never repaints.
            self.install_screen(self.backtests, name="backtests")
        if self.screen is not self.backtests:
            self.push_screen("backtests")

    def action_focus_pane(self, pane: str) -> None:
        self.main.query_one(f"#{pane}").focus()

    def action_quit(self) -> None:  # type: ignore[override]
        """Textual's own Quit (the palette's, ctrl+c's) asks like ``q`` does."""
        self.action_request_quit()

    def action_request_quit(self) -> None:
        working = self.services.orders.working_ids()
        if not working:
            self.exit()
            return

        def done(yes: bool | None) -> None:
            if yes:
                self.exit()

        self.push_screen(
            ConfirmScreen(
                f"[b]{count(len(working), 'order')} {'is' if len(working) == 1 else 'are'} "
                "working.[/b]\nQuit anyway? Nobody will manage them while quantdesk is closed.",
                yes="Quit",
                no="Stay",
            ),
            done,
        )

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        main, watchlist = self.main, self.main.query_one(Watchlist)
        for title, help_, action in (
            ("Kill switch", "Halt trading and cancel every working order", self.action_kill_switch),
            ("Re-arm trading", "Leave HALTED (asks you to type ARM)", self.action_rearm),
            ("Buy selected", "Order ticket for the watchlist row", watchlist.action_buy),
            ("Sell selected", "Order ticket for the watchlist row", watchlist.action_sell),
            ("Add symbol", "Add an instrument to the watchlist", main.action_add_symbol),
            ("Cancel all working orders", "Without halting", main.handle_cancel_all),
            ("Backtests", "Run, sweep and compare backtests", self.action_backtests),
            ("Risk limits", "Each limit's use; change a limit", self.action_risk),
            ("Help", "Every key", self.action_help),
            ("Quit", "Asks first when orders are working", self.action_request_quit),
        ):
            yield SystemCommand(title, help_, action)
        for command in super().get_system_commands(screen):
            if command.title.lower() != "quit":  # ours above asks first; Textual's did not
                yield command
