"""The quantdesk App: the services' lifecycle, the bridge, the kill tap and the market's
opening; console/main_screen.py holds the panes.

The App is built from parts: what they share (console/app_base.py), the bridge's
message handlers (console/app_messages.py), the global actions (console/app_actions.py)
and keys applied in typing order (console/key_order.py). Services are injected (tests
build the App over a paused simulator); they start in ``on_mount`` and stop in
``on_unmount``. The trading state on screen is one reactive value, set only by
:meth:`DeskApp.sync_trading`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.worker import Worker, WorkerState
from vnpy.trader.object import TickData

from console import killtap
from console.accounts_view import AccountsView
from console.app_actions import GlobalActions
from console.app_messages import BridgeHandlers, link_line
from console.bridge import Bridge
from console.config import Config
from console.key_order import OrderedKeys
from console.main_screen import MainScreen
from panes.accounts import AccountsBar
from panes.format import cst, palette
from panes.header import StatusHeader
from panes.jobs import Jobs
from panes.keymap import effective
from panes.keys import bindings
from panes.watchlist import SPARK_WIDTH
from services.events import TradingState
from services.market_data import MarketPrep
from services.ops.redact import redact
from services.ops.watchlist import WatchlistStore
from services.records.recovery import is_restored
from services.runtime import Services

__all__ = ["QuantdeskApp", "link_line"]

log = logging.getLogger("quantdesk.ui")


class QuantdeskApp(OrderedKeys, BridgeHandlers, GlobalActions):
    """One keyboard-driven screen over the services."""

    CSS_PATH = "app.tcss"
    TITLE = "quantdesk"
    BINDINGS = bindings("global")

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
        self.accounts = AccountsView(services)
        self.bridge_thread = bridge_thread
        self._main_is_ready = False  # the main screen's panes exist
        self._prep_pending: MarketPrep | None = None  # the store was ready before them
        self.on_frame = on_frame  # benchmarks measure quote-to-screen latency here
        self.store_info = None
        self.backtests = None
        self.theme = config.ui.theme
        palette.use(config.ui.colors)

    def compose(self) -> ComposeResult:
        return iter(())  # everything is on the main screen, pushed at mount

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
                    f"{whose} is HALTED since {cst(control.since, '%Y-%m-%d %H:%M:%S')} "
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

    def on_unmount(self) -> None:
        self.bridge.stop()
        self.services.stop()

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
        if self.config.backtest.warm_at_start:  # a cold cache compiles now, not at the first run
            self.services.backtests.prewarm()
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
