"""The App's handlers for what the bridge posts from the services: quotes and the
account, orders, fills, the trading state, jobs, backtests, the feed, the broker link,
system health, alert channels, reconciliations, strategies, the review queue, risk
alerts and log lines. Each shows what happened; none acts on the services."""

from __future__ import annotations

import contextlib

from textual import on
from textual.css.query import NoMatches

from console import trading_dialogs
from console.app_base import DeskApp
from console.bridge import (
    AccountReconciled,
    AlertChannelChanged,
    BacktestChanged,
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
from console.ticket import TicketScreen
from panes.format import cst
from panes.jobs import Jobs
from panes.log import LogPane
from panes.orders import Orders
from panes.positions import Positions
from panes.review import ReviewTable
from panes.watchlist import Watchlist
from services.events import ConnectionChanged, side_of


class BridgeHandlers(DeskApp):
    """Messages from the services, shown."""

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
            if isinstance(self.screen, TicketScreen):
                self.screen.offer_quote()  # opened before its symbol's first quote
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


def link_line(change: ConnectionChanged) -> tuple[str, bool]:
    """The broker connection for the header: words, and whether it is a warning."""
    if change.state == "CONNECTED":
        return "broker ●", False
    since = f" since {cst(change.since)}" if change.state == "RECONNECTING" else ""
    why = f": {change.message[:40]}" if change.state == "DOWN" and change.message else ""
    return f"broker {change.state}{since}{why}", True
