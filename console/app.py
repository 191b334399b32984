"""The quantdesk App: the services' lifecycle, the bridge, the kill tap, global actions
(kill, re-arm, flatten, screens, quit); console/main_screen.py holds the panes.

Services are injected (tests build the App over a paused simulator); they
start in ``on_mount`` and stop in ``on_unmount``. The trading state on screen is
one reactive value, set only by :meth:`QuantdeskApp.sync_trading`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.css.query import NoMatches
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker, WorkerState
from vnpy.trader.object import TickData

from console import killtap, trading_dialogs
from console.accounts_view import AccountsView
from console.backtests import BacktestScreen
from console.bridge import (
    AccountReconciled,
    AlertChannelChanged,
    BacktestChanged,
    Bridge,
    BrokerConnection,
    FeedChanged,
    HealthRead,
    JobChanged,
    LogLine,
    MarketRefreshed,
    OrdersUpdated,
    ReviewChanged,
    RiskAlerted,
    StateChanged,
    StrategiesUpdated,
    TradeFilled,
)
from console.config import Config
from console.dialogs import ConfirmScreen, HelpScreen
from console.main_screen import MainScreen
from panes.accounts import AccountsBar
from panes.format import count, palette
from panes.header import StatusHeader
from panes.jobs import Jobs
from panes.keymap import effective, key_of
from panes.keys import bindings
from panes.log import LogPane
from panes.orders import Orders
from panes.positions import Positions
from panes.review import ReviewTable
from panes.watchlist import SPARK_WIDTH, Watchlist
from services.data.records import StoreInfo
from services.events import ConnectionChanged, TradingState, side_of
from services.market_data import MarketPrep
from services.ops.redact import redact
from services.ops.watchlist import WatchlistStore
from services.records.recovery import is_restored
from services.runtime import Services

log = logging.getLogger("quantdesk.ui")


class QuantdeskApp(App[None]):
    """One keyboard-driven screen over the services."""

    CSS_PATH = "app.tcss"
    TITLE = "quantdesk"
    BINDINGS = bindings("global")
    # (state, reason): the one value the screens show; set only by sync_trading()
    trading: reactive[tuple[TradingState, str]] = reactive(
        (TradingState.ACTIVE, ""), init=False, always_update=True
    )

    def __init__(
        self,
        services: Services,
        config: Config,
        watchlist: WatchlistStore,
        *,
        bridge_thread: bool = True,
        on_frame: Callable[[dict[str, TickData]], None] | None = None,
    ) -> None:
        super().__init__()
        self.services = services
        self.config = config
        self.watchlist_store = watchlist
        self.bridge = Bridge(self, services, config.ui.refresh_hz, trail_points=SPARK_WIDTH)
        self.accounts = AccountsView(services)  # several live accounts: which one is shown
        self.bridge_thread = bridge_thread
        self._main_is_ready = False  # the main screen's panes exist
        self._prep_pending: MarketPrep | None = None  # the store was ready before them
        self.on_frame = on_frame  # benchmarks measure quote-to-screen latency here
        self.store_info: StoreInfo | None = None
        self.backtests: BacktestScreen | None = None  # kept: its form and result survive closing
        self.theme = config.ui.theme
        palette.use(config.ui.colors)

    def compose(self) -> ComposeResult:
        return iter(())  # everything is on the main screen, pushed at mount

    def key(self, key_id: str) -> str:
        """The key that does ``key_id`` here, [keys] remaps applied ("ctrl+r")."""
        return key_of(self.config.keys, key_id)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notification (the screens' and widgets' come here too) is plain text with
        secrets masked: they quote outside text, and ``[/]`` in a broker's refusal must
        show as sent, not crash the console. ``markup`` is ignored for that reason."""
        super().notify(
            redact(message), title=redact(title), severity=severity, timeout=timeout, markup=False
        )

    def get_default_screen(self) -> Screen[Any]:
        """The main screen is the App's default screen: the bottom of the stack, always."""
        self.main = MainScreen(self.services, self.watchlist_store, on_ready=self._main_ready)
        return self.main

    def on_mount(self) -> None:
        if self.config.keys:
            self.set_keymap(self.config.keys)
        if self._driver is not None:
            kill_keys = effective(self.config.keys)["kill"]
            killtap.install(
                self._driver,
                frozenset(k.strip() for k in kill_keys.split(",")),
                lambda: self.services.kill_switch(f"kill switch ({self.key('kill')})"),
            )
        self.prepare_market()
        for note in self.services.recovery_notes:
            ok = is_restored(note)
            self.notify(note, severity="information" if ok else "warning", timeout=10 if ok else 20)
        for desk in self.services.desks:
            control = desk.control
            if control.state is TradingState.HALTED:
                whose = f"Account {desk.id}: trading" if self.accounts.several else "Trading"
                self.notify(
                    f"{whose} is HALTED since {control.since:%Y-%m-%d %H:%M:%S} "
                    f"({control.reason}). {self.key('rearm')} to re-arm.",
                    severity="error",
                    timeout=10,
                )

    def _main_ready(self) -> None:
        """The main screen's panes exist: show the trading state, then let frames in."""
        self.sync_trading()
        self.main.query_one(AccountsBar).hint = f"{self.key('next_account')}: next account"
        self.main.query_one(StatusHeader).rearm_key = self.key("rearm")
        self.bridge.register()
        if self.bridge_thread:
            self.bridge.start()
        self._main_is_ready = True
        if self._prep_pending is not None:
            prep, self._prep_pending = self._prep_pending, None
            self.open_market(prep)

    def sync_trading(self) -> None:
        """The trading state on screen, from the one place that holds it (the control
        service): every change -- a halt from anywhere, a re-arm, a flatten -- comes here."""
        self.trading = (self.services.control.state, self.services.control.reason)

    def watch_trading(self, value: tuple[TradingState, str]) -> None:
        header = self.main.header
        header.state, header.state_reason = value[0], value[1]
        self.show_accounts()

    def show_accounts(self) -> None:
        """The accounts bar (several live accounts): each one's state, link and equity."""
        if self.accounts.several:
            with contextlib.suppress(NoMatches):  # the screen is being torn down
                self.main.query_one(AccountsBar).accounts = self.accounts.lines()

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

    def on_unmount(self) -> None:
        self.bridge.stop()
        self.services.stop()

    # -- from the bridge --------------------------------------------------------------------
    @on(MarketRefreshed)
    def handle_market(self, message: MarketRefreshed) -> None:
        try:
            main = self.main
            main.query_one(Watchlist).update_quotes(message.ticks, message.trails)
            main.query_one(Positions).update_account(message.account)
            header = main.header
            header.account = message.account
            header.clock = message.clock
            header.show_bus(message.bus)
            if message.accounts:
                self.accounts.views = message.accounts
                self.show_accounts()
            if self.on_frame is not None:
                self.on_frame(message.ticks)
            if main.query_one(ReviewTable).row_count:
                main.refresh_review()  # verdicts and staleness move with the market
        except NoMatches:  # a frame that arrives while the screen is being torn down
            pass
        finally:
            self.bridge.applied()

    @on(OrdersUpdated)
    def handle_orders(self, message: OrdersUpdated) -> None:
        try:
            self.main.query_one(Orders).update_orders(self.accounts.sort_orders(message.orders))
        finally:
            self.bridge.orders_applied()

    @on(TradeFilled)
    def handle_trade(self, message: TradeFilled) -> None:
        t = message.trade
        side = side_of(t.direction).upper()
        whose = f"{t.gateway_name}: " if self.accounts.several else ""
        self.notify(f"{whose}Filled {side} {t.volume:,.0f} {t.vt_symbol} @ {t.price:g}", timeout=4)

    @on(StateChanged)
    def handle_state(self, message: StateChanged) -> None:
        self.sync_trading()

    @on(JobChanged)
    def handle_job(self, message: JobChanged) -> None:
        self.main.query_one(Jobs).update_jobs(self.services.scheduler.states())
        update = message.update
        if update.state == "failed":
            self.notify(f"Job {update.name} failed: {update.detail}", severity="error", timeout=10)

    @on(BacktestChanged)
    def handle_backtest(self, message: BacktestChanged) -> None:
        update = message.update
        if self.backtests is not None:
            self.backtests.apply(update)
        if self.screen is not self.backtests and update.state in ("done", "failed"):
            detail = update.what if update.state == "done" else update.error.splitlines()[0]
            self.notify(
                f"Backtest {update.state}: {detail} (B opens backtests)",
                severity="information" if update.state == "done" else "error",
            )

    # -- strategies and the review queue ---------------------------------------------------
    @on(FeedChanged)
    def handle_feed(self, message: FeedChanged) -> None:
        self.main.feed_status = message.status
        with contextlib.suppress(NoMatches):  # the screen is being torn down
            self.main.show_feed()

    @on(BrokerConnection)
    def handle_connection(self, message: BrokerConnection) -> None:
        change = message.change
        self.main.header.link = self.accounts.connection(change, link_line(change))
        self.show_accounts()
        if change.state in ("RECONNECTING", "DOWN") and change.message:
            whose = f"Account {change.gateway}: broker" if self.accounts.several else "Broker"
            self.notify(f"{whose} {change.state.lower()}: {change.message}", severity="warning")

    @on(HealthRead)
    def handle_health(self, message: HealthRead) -> None:
        """The header's system summary; a limit crossed shows there until it clears."""
        health = message.health
        with contextlib.suppress(NoMatches):
            self.main.header.health = (
                "⚠ " + "; ".join(health.warnings) if health.warnings else health.line(),
                bool(health.warnings),
            )

    @on(AlertChannelChanged)
    def handle_alert_channel(self, message: AlertChannelChanged) -> None:
        d = message.delivery
        if d.ok:
            self.notify(f"Alert channel {d.channel} delivers again", timeout=8)
        else:
            self.notify(
                f"Alert channel {d.channel} FAILING: {d.detail}. Alerts wait and are retried "
                "(M shows them; quantdesk alerts list).",
                severity="error",
                timeout=20,
            )

    @on(AccountReconciled)
    def handle_reconciled(self, message: AccountReconciled) -> None:
        trading_dialogs.show_reconciled(self, message.result)

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

    @on(StrategiesUpdated)
    def handle_strategies(self) -> None:
        self.main.refresh_strategies()  # started, stopped, or stopped by a halt from anywhere

    @on(ReviewChanged)
    def handle_review(self) -> None:
        self.main.refresh_review()

    @on(RiskAlerted)
    def handle_risk_alert(self, message: RiskAlerted) -> None:
        a = message.alert
        self.notify(
            f"RISK: {a.message}. Trading HALTED ({self.key('rearm')} re-arms).",
            severity="error",
            timeout=20,
        )

    @on(LogLine)
    def handle_log(self, message: LogLine) -> None:
        self.main.query_one(LogPane).add(message.record)

    # -- intents from panes --------------------------------------------------------------------
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

    @work(thread=True, exclusive=True, exit_on_error=False, group="market")
    def prepare_market(self) -> MarketPrep:
        """Open ArcticDB and read yesterday's closes off the UI thread (~0.5 s; a first
        start also writes the demo history)."""
        return self.services.prepare_market()

    def open_market(self, prep: MarketPrep) -> None:
        """The store is ready (or not): open the market and start the scheduled jobs."""
        self.store_info = prep.info
        header = self.main.header
        if prep.empty:
            header.store = "STORE EMPTY"
            self.notify(prep.error, severity="warning", timeout=30)
        elif prep.error:
            header.store = "STORE UNUSABLE"  # stays in the header, not only in a toast
            self.notify(
                f"Market data store unusable: {prep.error}. "
                + ("The market opens at reference prices; " if self.services.mode == "DEMO" else "")
                + "history, backtests and the daily sync will fail until it is fixed.",
                severity="error",
                timeout=60,
            )
        if prep.seeded:
            self.notify(f"First start: demo history written ({prep.seeded})", timeout=8)
        self.services.start(prev_closes=prep.closes)
        self.services.scheduler.start()
        self.main.query_one(Jobs).update_jobs(self.services.scheduler.states())

    @on(Worker.StateChanged)
    def handle_worker_state(self, event: Worker.StateChanged) -> None:
        """One place for worker outcomes: errors are shown, never swallowed."""
        worker = event.worker
        if worker.group == "market" and worker.state is WorkerState.SUCCESS:
            prep: MarketPrep = worker.result  # type: ignore[assignment]
            if self._main_is_ready:
                self.open_market(prep)
            else:  # the store was quicker than the screen: open once the panes exist
                self._prep_pending = prep
        elif worker.state is WorkerState.ERROR:
            log.error("%s", worker.error)
            self.notify(f"{worker.error}", severity="error", timeout=15)

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


def link_line(change: ConnectionChanged) -> tuple[str, bool]:
    """The broker connection for the header: words, and whether it is a warning."""
    if change.state == "CONNECTED":
        return "broker ●", False
    since = f" since {change.since:%H:%M:%S}" if change.state == "RECONNECTING" else ""
    why = f": {change.message[:40]}" if change.state == "DOWN" and change.message else ""
    return f"broker {change.state}{since}{why}", True
