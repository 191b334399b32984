"""What the App's parts share: the services, the config, the main screen, the one
trading-state value, and the key that does each action (with [keys] remaps).

QuantdeskApp (console/app.py) is built from this base, the bridge's message handlers
(console/app_messages.py) and the global actions (console/app_actions.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from textual.app import App
from textual.css.query import NoMatches
from textual.reactive import reactive
from vnpy.trader.object import TickData

from console.accounts_view import AccountsView
from console.backtests import BacktestScreen
from console.bridge import Bridge
from console.config import Config
from console.main_screen import MainScreen
from panes.accounts import AccountsBar
from panes.keymap import key_of
from services.data.records import StoreInfo
from services.events import TradingState
from services.runtime import Services


class DeskApp(App[None]):
    """The state every part of the App reads; set up by QuantdeskApp.__init__."""

    services: Services
    config: Config
    bridge: Bridge
    accounts: AccountsView  # several live accounts: which one is shown
    main: MainScreen
    store_info: StoreInfo | None
    backtests: BacktestScreen | None  # kept: its form and result survive closing
    on_frame: Callable[[dict[str, TickData]], None] | None  # benchmarks' quote-to-screen hook
    # (state, reason): the one value the screens show; set only by sync_trading()
    trading: reactive[tuple[TradingState, str]] = reactive(
        (TradingState.ACTIVE, ""), init=False, always_update=True
    )

    def key(self, key_id: str) -> str:
        """The key that does ``key_id`` here, [keys] remaps applied ("ctrl+r")."""
        return key_of(self.config.keys, key_id)

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
