"""The quantdesk App: composes the panes, owns service lifecycles, acts on intents.

Services are injected (tests build the App over a paused simulator); they
start in ``on_mount`` and stop in ``on_unmount``. Panes post intent messages;
this class is the only place that calls services in response.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker, WorkerState
from vnpy.trader.object import TickData

from console import killtap
from console.backtests import BacktestScreen
from console.bridge import (
    BacktestChanged,
    Bridge,
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
from console.dialogs import (
    ConfirmScreen,
    HelpScreen,
    TableScreen,
    TextPromptScreen,
    rearm_prompt,
)
from console.ticket import TicketDefaults, TicketScreen
from panes.format import count, palette
from panes.header import StatusHeader
from panes.jobs import Jobs
from panes.keys import KEYS, bindings
from panes.log import LogPane
from panes.orders import Orders
from panes.positions import Positions
from panes.review import ReviewTable
from panes.strategies import StrategiesTable
from panes.watchlist import SPARK_WIDTH, Watchlist
from services.events import OrderIntent, TradingState
from services.ops.watchlist import WatchlistStore
from services.runtime import MarketPrep, Services
from services.store import StoreInfo
from services.trading.checks import estimated_cost
from services.trading.control import RearmRefused
from services.trading.orders import SubmitResult

log = logging.getLogger("quantdesk.ui")


class QuantdeskApp(App[None]):
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
        self.bridge_thread = bridge_thread
        self.on_frame = on_frame  # benchmarks measure quote-to-screen latency here
        self.store_info: StoreInfo | None = None
        self.instruments = {i.vt_symbol: i for i in services.universe.instruments}
        self.backtests: BacktestScreen | None = None  # kept: its form and result survive closing
        self.theme = config.ui.theme
        palette.use(config.ui.colors)

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="header")
        with Vertical(id="body"):
            with Horizontal(id="top"):
                yield Watchlist(self.instruments, self.watchlist_store.load(), id="watchlist")
                with Vertical(id="side"):
                    yield Jobs(id="jobs")
                    yield StrategiesTable(id="strategies")
                    yield LogPane(id="log")
            with Horizontal(id="bottom"):
                yield Positions(self.instruments, id="positions")
                with Vertical(id="order-side"):
                    yield ReviewTable(id="review")
                    yield Orders(id="orders")
        yield Footer()

    def on_mount(self) -> None:
        if self.config.keys:
            self.set_keymap(self.config.keys)
        if self._driver is not None:
            kill_keys = self.config.keys.get("kill", next(k.key for k in KEYS if k.id == "kill"))
            killtap.install(
                self._driver,
                frozenset(k.strip() for k in kill_keys.split(",")),
                lambda: self.services.kill_switch("kill switch (ctrl+k)"),
            )
        header = self.query_one(StatusHeader)
        header.mode = self.services.mode
        header.state = self.services.control.state
        header.state_reason = self.services.control.reason
        self.bridge.register()
        if self.bridge_thread:
            self.bridge.start()
        self.query_one(Watchlist).focus()
        self.refresh_strategies()
        self.prepare_market()
        for note in self.services.recovery_notes:
            restored = note.startswith("restored")
            self.notify(
                note,
                severity="information" if restored else "warning",
                timeout=10 if restored else 20,
            )
        if self.services.control.state is TradingState.HALTED:
            self.notify(
                f"Trading is HALTED since {self.services.control.since:%Y-%m-%d %H:%M:%S} "
                f"({self.services.control.reason}). ctrl+r to re-arm.",
                severity="error",
                timeout=10,
            )

    def on_unmount(self) -> None:
        self.bridge.stop()
        self.services.stop()

    # -- from the bridge --------------------------------------------------------------------
    @on(MarketRefreshed)
    def handle_market(self, message: MarketRefreshed) -> None:
        try:
            self.query_one(Watchlist).update_quotes(message.ticks, message.trails)
            self.query_one(Positions).update_account(message.account)
            header = self.query_one(StatusHeader)
            header.account = message.account
            header.clock = message.clock
            header.bus = message.bus
            if self.on_frame is not None:
                self.on_frame(message.ticks)
            if self.query_one(ReviewTable).row_count:
                self.refresh_review()  # verdicts and staleness move with the market
        finally:
            self.bridge.applied()

    @on(OrdersUpdated)
    def handle_orders(self, message: OrdersUpdated) -> None:
        try:
            self.query_one(Orders).update_orders(message.orders)
        finally:
            self.bridge.orders_applied()

    @on(TradeFilled)
    def handle_trade(self, message: TradeFilled) -> None:
        t = message.trade
        side = "BUY" if t.direction is not None and t.direction.name == "LONG" else "SELL"
        self.notify(f"Filled {side} {t.volume:,.0f} {t.vt_symbol} @ {t.price:g}", timeout=4)

    @on(StateChanged)
    def handle_state(self, message: StateChanged) -> None:
        header = self.query_one(StatusHeader)
        header.state = message.change.state
        header.state_reason = message.change.reason

    @on(JobChanged)
    def handle_job(self, message: JobChanged) -> None:
        self.query_one(Jobs).update_jobs(self.services.scheduler.states())
        update = message.update
        if update.state == "failed":
            self.notify(f"Job {update.name} failed: {update.detail}", severity="error", timeout=10)

    @on(Jobs.RunRequested)
    def handle_run_job(self, message: Jobs.RunRequested) -> None:
        if self.services.scheduler.run_now(message.name):
            self.notify(f"Job {message.name} started")
        else:
            self.notify(f"Job {message.name} is already running", severity="warning")

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
    def refresh_review(self) -> None:
        self.query_one(ReviewTable).show(self.services.review.items())

    def refresh_strategies(self) -> None:
        live = self.services.live
        self.query_one(StrategiesTable).show(list(live.specs.values()), live.running)

    @on(StrategiesUpdated)
    def handle_strategies(self) -> None:
        self.refresh_strategies()  # started, stopped, or stopped by a halt from anywhere

    @on(ReviewChanged)
    def handle_review(self) -> None:
        self.refresh_review()

    @on(RiskAlerted)
    def handle_risk_alert(self, message: RiskAlerted) -> None:
        a = message.alert
        self.notify(
            f"RISK: {a.message}. Trading HALTED (ctrl+r re-arms).", severity="error", timeout=20
        )

    @on(StrategiesTable.ToggleRequested)
    def handle_toggle_strategy(self, message: StrategiesTable.ToggleRequested) -> None:
        live = self.services.live
        if message.strategy_id in live.running:
            live.stop(message.strategy_id)
            self.notify(f"Strategy {message.strategy_id} stopped")
        else:
            live.start(message.strategy_id)
            self.notify(f"Strategy {message.strategy_id} started")
        self.refresh_strategies()

    @on(StrategiesTable.CompareRequested)
    def handle_compare_strategy(self, message: StrategiesTable.CompareRequested) -> None:
        from services.trading.live import compare_with_backtest

        live = self.services.live
        spec = live.specs[message.strategy_id]
        rows = [
            {"symbol": symbol, **row}
            for symbol in spec.symbols
            for row in compare_with_backtest(live, spec.id, symbol)
        ]
        self.push_screen(
            TableScreen(
                f"{spec.id}: live versus the same strategy backtested on the bars it saw",
                rows,
                "No signal since it started: nothing to compare yet.",
            )
        )

    @on(ReviewTable.Decided)
    def handle_decided(self, message: ReviewTable.Decided) -> None:
        review = self.services.review
        if message.action == "reject":
            review.reject(message.intent_id)
            self.notify("Proposal rejected")
        elif message.action == "approve":
            self._approve(message.intent_id)
        else:
            self._edit(message.intent_id)

    @on(ReviewTable.DecidedAll)
    def handle_decided_all(self, message: ReviewTable.DecidedAll) -> None:
        review = self.services.review
        if message.action == "reject":
            n = review.reject_all(message.strategy_id, "rejected by the trader (all)")
            self.notify(f"{count(n, 'proposal')} of {message.strategy_id} rejected")
            return
        results = review.approve_all(message.strategy_id)
        sent = sum(1 for r in results if not isinstance(r, str) and r.accepted)
        left = [r for r in results if isinstance(r, str)]
        refused = [r for r in results if not isinstance(r, str) and not r.accepted]
        self.notify(
            f"{sent} of {count(len(results), 'proposal')} of {message.strategy_id} sent"
            + (f"; {count(len(left), 'stale one')} left in the queue" if left else "")
            + (f"; {len(refused)} refused by the checks" if refused else ""),
            severity="information" if sent == len(results) else "warning",
        )

    def _approve(self, intent_id: str, qty: int | None = None, price: float | None = None) -> None:
        from services.trading.review import ReviewError

        review = self.services.review
        try:
            result = review.approve(intent_id, qty, price)
        except ReviewError as exc:
            self.notify(str(exc), severity="warning", timeout=8)
            return
        self._report_submit(result)

    def _edit(self, intent_id: str) -> None:
        review = self.services.review
        item = next((i for i in review.items() if i.proposal.intent.intent_id == intent_id), None)
        if item is None:
            return
        intent = item.proposal.intent

        def parse(text: str) -> tuple[int, float] | str:
            parts = text.split()
            try:
                qty = int(parts[0])
                price = float(parts[1]) if len(parts) > 1 else float(intent.price or 0)
            except (ValueError, IndexError):
                return "Type a quantity and a price, e.g. 200 1466.50"
            if qty <= 0 or price <= 0:
                return "Quantity and price must be positive"
            return qty, price

        def validate(text: str) -> str:
            got = parse(text)
            return got if isinstance(got, str) else ""

        def done(text: str | None) -> None:
            if text:
                got = parse(text)
                if not isinstance(got, str):
                    self._approve(intent_id, got[0], got[1])

        self.push_screen(
            TextPromptScreen(
                f"Edit {intent.side} {intent.vt_symbol}: quantity and price "
                f"(now {intent.qty} @ {intent.price:g}), then enter sends it:",
                validate,
                placeholder=f"{intent.qty} {intent.price:g}",
            ),
            done,
        )

    @on(LogLine)
    def handle_log(self, message: LogLine) -> None:
        self.query_one(LogPane).add(message.record)

    # -- intents from panes --------------------------------------------------------------------
    @on(Watchlist.TicketRequested)
    def handle_ticket_from_watchlist(self, message: Watchlist.TicketRequested) -> None:
        self.open_ticket(message.vt_symbol, message.side)

    @on(Positions.TicketRequested)
    def handle_ticket_from_positions(self, message: Positions.TicketRequested) -> None:
        # A sell is prefilled with what may be sold now: T+1 sellable less working sells
        # (0 when nothing is, never a default lot); a buy with one lot.
        sellable = max(0, self.services.orders.sellable(message.vt_symbol))
        self.open_ticket(
            message.vt_symbol, message.side, sellable if message.side == "sell" else None
        )

    @on(Watchlist.AddRequested)
    def handle_add(self) -> None:
        self.action_add_symbol()

    @on(Watchlist.RemoveRequested)
    def handle_remove(self, message: Watchlist.RemoveRequested) -> None:
        watchlist = self.query_one(Watchlist)
        if watchlist.remove_symbol(message.vt_symbol):
            self.watchlist_store.save(watchlist.symbols)
            self.notify(f"Removed {message.vt_symbol} from the watchlist")

    @on(Orders.CancelRequested)
    def handle_cancel(self, message: Orders.CancelRequested) -> None:
        if not self.services.orders.cancel(message.vt_orderid):
            self.notify(
                f"{message.vt_orderid} is not working: nothing to cancel", severity="warning"
            )

    @on(Orders.CancelAllRequested)
    def handle_cancel_all(self) -> None:
        ids = self.services.orders.cancel_all("cancel all (user)")
        self.notify(
            f"Cancel requested for {count(len(ids), 'working order')}"
            if ids
            else "No working orders"
        )

    # -- actions ---------------------------------------------------------------------------
    def open_ticket(self, vt_symbol: str, side: str, qty: int | None = None) -> None:
        inst = self.instruments.get(vt_symbol)
        price = self.services.market.touch(vt_symbol, side)
        lot = inst.lot if inst else 100
        defaults = TicketDefaults(vt_symbol, side, lot if qty is None else qty, price)
        orders = self.services.orders

        def estimate(intent: OrderIntent) -> tuple[float, float]:
            return estimated_cost(intent, orders.context(intent), orders.costs)

        self.push_screen(
            TicketScreen(
                defaults, orders.check, estimate, self.services.universe.resolve, orders.refused
            ),
            self._ticket_closed,
        )

    def _ticket_closed(self, intent: OrderIntent | None) -> None:
        if intent is None:
            return
        self._report_submit(self.services.orders.submit(intent))

    def _report_submit(self, result: SubmitResult) -> None:
        """What became of an order sent from a ticket or an approved proposal."""
        intent = result.intent
        if result.accepted:
            self.notify(
                f"Sent {intent.side.upper()} {intent.qty:,} {intent.vt_symbol} "
                f"as {result.vt_orderid}"
            )
            return
        reasons = (
            f"{v.rule}: {v.message}" if v.field == "risk" else v.message for v in result.violations
        )
        self.notify("Order refused: " + " ".join(reasons), severity="error", timeout=10)

    def action_kill_switch(self) -> None:
        """The palette's kill switch (the key itself is handled by the kill tap)."""
        self._show_killed(self.services.kill_switch("kill switch (palette)"))

    @on(killtap.KillSwitchFired)
    def handle_killed(self, message: killtap.KillSwitchFired) -> None:
        self._show_killed(message.cancelled)

    def _show_killed(self, cancelled: list[str]) -> None:
        self.refresh_strategies()
        self.refresh_review()
        header = self.query_one(StatusHeader)
        header.state = TradingState.HALTED
        header.state_reason = self.services.control.reason
        self.notify(
            "KILL SWITCH: trading HALTED, cancel sent for "
            f"{count(len(cancelled), 'working order')}, strategies stopped, proposals "
            "rejected. ctrl+r to re-arm.",
            severity="error",
            timeout=10,
        )

    def action_rearm(self) -> None:
        if self.services.control.state is TradingState.ACTIVE:
            self.notify("Trading is already ACTIVE")
            return

        def done(word: str | None) -> None:
            if word is None:
                self.notify("Still HALTED", severity="warning")
                return
            try:
                self.services.control.rearm(word)
            except RearmRefused as exc:  # the prompt validates first; defensive
                self.notify(str(exc), severity="error")
                return
            header = self.query_one(StatusHeader)
            header.state = self.services.control.state
            live = self.services.live
            stopped = sorted(set(live.specs) - live.running)
            self.notify(
                "Trading re-armed: ACTIVE."
                + (
                    f" Strategies stay stopped until you start them ({', '.join(stopped)}: "
                    "s in the strategies pane)."
                    if stopped
                    else ""
                ),
                timeout=10,
            )

        self.push_screen(rearm_prompt(), done)

    def action_flatten(self) -> None:
        """After a HALT: preview one closing order per position, send them on confirmation."""
        if self.services.control.state is not TradingState.HALTED:
            self.notify("Flatten follows a halt: press ctrl+k first", severity="warning")
            return
        intents, notes = self.services.flatten_preview()
        if not intents:
            self.notify(
                "Nothing to flatten" + (": " + "; ".join(notes) if notes else ""), timeout=10
            )
            return
        lines = [f"SELL {i.qty:,} {i.vt_symbol} limit {i.price:g} (reduce-only)" for i in intents]
        text = (
            "[b]Flatten: one closing order per position[/b]\n"
            + "\n".join(lines)
            + ("\n[dim]" + "\n".join(notes) + "[/dim]" if notes else "")
            + "\nTrading goes to REDUCING: only orders that reduce a position pass."
        )

        def done(yes: bool | None) -> None:
            if not yes:
                self.notify("Flatten cancelled: still HALTED")
                return
            results = self.services.flatten(intents)
            sent = sum(r.accepted for r in results)
            header = self.query_one(StatusHeader)
            header.state = self.services.control.state
            header.state_reason = self.services.control.reason
            refused = [
                f"{r.intent.vt_symbol}: " + "; ".join(v.message for v in r.violations)
                for r in results
                if not r.accepted
            ]
            self.notify(
                f"Flatten: {sent} of {count(len(results), 'closing order')} sent; trading REDUCING"
                + ("; refused: " + " ".join(refused) if refused else ""),
                severity="warning" if refused else "information",
                timeout=12,
            )

        self.push_screen(ConfirmScreen(text, yes="Send", no="Cancel"), done)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.config.keys))

    def action_risk(self) -> None:
        from console.risk_screen import RiskScreen

        if not isinstance(self.screen, RiskScreen):
            self.push_screen(RiskScreen(self.services.risk, self.services.execution))

    def action_backtests(self) -> None:
        if self.backtests is None:
            watchlist = self.query_one(Watchlist)
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
        self.query_one(f"#{pane}").focus()

    def action_add_symbol(self) -> None:
        universe = self.services.universe
        watchlist = self.query_one(Watchlist)

        def validate(text: str) -> str:
            inst = universe.resolve(text)
            if inst is None:
                return (
                    f"Unknown symbol {text.strip()!r}: the simulated market lists "
                    f"{len(universe)} instruments (e.g. 600519 or 510300.SSE)."
                )
            if inst.vt_symbol in watchlist.symbols:
                return f"{inst.vt_symbol} is already on the watchlist."
            return ""

        def done(text: str | None) -> None:
            inst = universe.resolve(text) if text else None
            if inst is not None and watchlist.add_symbol(inst.vt_symbol):
                self.watchlist_store.save(watchlist.symbols)
                self.notify(f"Added {inst.vt_symbol} {inst.name}")

        self.push_screen(
            TextPromptScreen("Add a symbol (code, e.g. 600519 or 510300.SSE):", validate), done
        )

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
                f"[b]{count(len(working), 'order')} "
                f"{'is' if len(working) == 1 else 'are'} working.[/b]\n"
                "Quit anyway? Nobody will manage "
                "them while quantdesk is closed.",
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
        header = self.query_one(StatusHeader)
        if prep.empty:
            header.store = "STORE EMPTY"
            self.notify(prep.error, severity="warning", timeout=30)
        elif prep.error:
            header.store = "STORE UNUSABLE"  # stays in the header, not only in a toast
            self.notify(
                f"Market data store unusable: {prep.error}. The market opens at reference "
                "prices; history, backtests and the daily sync will fail until it is fixed.",
                severity="error",
                timeout=60,
            )
        if prep.seeded:
            self.notify(f"First start: demo history written ({prep.seeded})", timeout=8)
        self.services.start(prev_closes=prep.closes)
        self.services.scheduler.start()
        self.query_one(Jobs).update_jobs(self.services.scheduler.states())

    @on(Worker.StateChanged)
    def handle_worker_state(self, event: Worker.StateChanged) -> None:
        """One place for worker outcomes: errors are shown, never swallowed."""
        worker = event.worker
        if worker.group == "market" and worker.state is WorkerState.SUCCESS:
            prep: MarketPrep = worker.result  # type: ignore[assignment]
            self.open_market(prep)
        elif worker.state is WorkerState.ERROR:
            log.error("%s", worker.error)
            self.notify(f"{worker.error}", severity="error", timeout=15)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield SystemCommand(
            "Kill switch", "Halt trading and cancel every working order", self.action_kill_switch
        )
        yield SystemCommand(
            "Re-arm trading", "Leave HALTED (asks you to type ARM)", self.action_rearm
        )
        yield SystemCommand(
            "Buy selected",
            "Order ticket for the watchlist row",
            lambda: self.query_one(Watchlist).action_ticket("buy"),
        )
        yield SystemCommand(
            "Sell selected",
            "Order ticket for the watchlist row",
            lambda: self.query_one(Watchlist).action_ticket("sell"),
        )
        yield SystemCommand(
            "Add symbol", "Add an instrument to the watchlist", self.action_add_symbol
        )
        yield SystemCommand("Cancel all working orders", "Without halting", self.handle_cancel_all)
        yield SystemCommand("Backtests", "Run, sweep and compare backtests", self.action_backtests)
        yield SystemCommand("Risk limits", "Each limit's use; change a limit", self.action_risk)
        yield SystemCommand("Help", "Every key", self.action_help)
        yield SystemCommand("Quit", "Asks first when orders are working", self.action_request_quit)
        for command in super().get_system_commands(screen):
            if command.title.lower() != "quit":  # ours above asks first; Textual's did not
                yield command
