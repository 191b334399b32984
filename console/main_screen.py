"""The main screen: watchlist, jobs, strategies, log, positions, review queue, orders.

Panes post intent messages (a ticket wanted, a proposal approved, an order to
cancel); this screen acts on them by calling the services, and shows what the
App hands it from the bridge. Global actions (kill switch, re-arm, flatten,
other screens, quit) and the services' lifecycle stay with the App.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen

from console.dialogs import TableScreen, TextPromptScreen
from console.ticket import TicketDefaults, TicketScreen
from panes.accounts import AccountsBar
from panes.footer import KeyFooter
from panes.format import count
from panes.header import StatusHeader
from panes.jobs import Jobs
from panes.log import LogPane
from panes.orders import Orders
from panes.positions import Positions
from panes.review import ReviewTable
from panes.strategies import StrategiesTable
from panes.watchlist import Watchlist
from services.events import FeedStatus, OrderIntent
from services.feed.gateway import feed_line
from services.instruments import Instrument
from services.ops.watchlist import WatchlistStore
from services.runtime import Services
from services.trading.checks import estimated_cost
from services.trading.orders import SubmitResult
from services.trading.review import parse_edit


class MainScreen(Screen[None]):
    """The one screen a trader watches; modals and the backtests and risk screens go on top."""

    def __init__(
        self, services: Services, watchlist: WatchlistStore, on_ready: Callable[[], None]
    ) -> None:
        super().__init__(id="main")
        self.services = services
        self.on_ready = on_ready  # the App fills in what it owns (the trading state)
        self.watchlist_store = watchlist
        self.feed_status: FeedStatus | None = None
        self.instruments: dict[str, Instrument] = {
            i.vt_symbol: i for i in services.universe.instruments
        }

    def compose(self) -> ComposeResult:
        symbols = self.watchlist_store.load()  # in paper mode this may list saved symbols
        for inst in self.services.universe.instruments:
            self.instruments.setdefault(inst.vt_symbol, inst)
        yield StatusHeader(id="header")
        yield AccountsBar(id="accounts")
        with Vertical(id="body"):
            with Horizontal(id="top"):
                yield Watchlist(self.instruments, symbols, id="watchlist")
                with Vertical(id="side"):
                    yield Jobs(id="jobs")
                    yield StrategiesTable(id="strategies")
                    yield LogPane(id="log")
            with Horizontal(id="bottom"):
                yield Positions(self.instruments, id="positions")
                with Vertical(id="order-side"):
                    yield ReviewTable(id="review")
                    yield Orders(id="orders")
        yield KeyFooter()

    def on_mount(self) -> None:
        services = self.services
        self.header.mode = services.badge(services.account_id)
        if services.account_id:  # approved proposals go to the first account: the queue says so
            review = self.query_one(ReviewTable)
            review.venue = services.badge(services.primary.id)
            review.border_title = f"Review queue → {review.venue}"
        watchlist = self.query_one(Watchlist)
        self.services.watched = set(watchlist.symbols)  # what the live feed polls
        if self.services.market.clock is not None:  # real quotes: their age shows
            self.set_interval(1.0, self._tick_feed)
        watchlist.focus()
        self.refresh_strategies()
        self.on_ready()

    def _tick_feed(self) -> None:
        with contextlib.suppress(NoMatches):  # the panes are being torn down
            self.show_feed()

    def show_feed(self) -> None:
        """The feed's state in the header, and stale quotes dimmed (once a second)."""
        clock = self.services.market.clock
        if clock is None or self.feed_status is None:
            return
        stale_s = self.services.feed_stale_s
        self.header.feed = feed_line(self.feed_status, clock(), stale_s)
        watchlist = self.query_one(Watchlist)
        ages = {s: self.services.market.age(s) for s in watchlist.symbols}
        watchlist.mark_stale({s for s, age in ages.items() if age is not None and age > stale_s})

    @property
    def header(self) -> StatusHeader:
        return self.query_one(StatusHeader)

    @on(Jobs.RunRequested)
    def handle_run_job(self, message: Jobs.RunRequested) -> None:
        if self.services.scheduler.run_now(message.name):
            self.notify(f"Job {message.name} started")
        else:
            self.notify(f"Job {message.name} is already running", severity="warning")

    def refresh_review(self) -> None:
        self.query_one(ReviewTable).show(self.services.review.items())

    def refresh_strategies(self) -> None:
        live = self.services.live
        self.query_one(StrategiesTable).show(list(live.specs.values()), live.running)

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
        self.app.push_screen(
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

        def validate(text: str) -> str:
            got = parse_edit(text, intent)
            return got if isinstance(got, str) else ""

        def done(text: str | None) -> None:
            if text:
                got = parse_edit(text, intent)
                if not isinstance(got, str):
                    self._approve(intent_id, got[0], got[1])

        self.app.push_screen(
            TextPromptScreen(
                Text(
                    f"Edit {intent.side} {intent.vt_symbol}: quantity and price "
                    f"(now {intent.qty} @ {intent.price:g}), then enter sends it:"
                ),
                validate,
                placeholder=f"{intent.qty} {intent.price:g}",
            ),
            done,
        )

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
            self.services.watched = set(watchlist.symbols)
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

    def open_ticket(self, vt_symbol: str, side: str, qty: int | None = None) -> None:
        orders = self.services.orders
        qty, price = orders.ticket_defaults(vt_symbol, side, qty)
        defaults = TicketDefaults(vt_symbol, side, qty, price)

        def estimate(intent: OrderIntent) -> tuple[float, float]:
            return estimated_cost(intent, orders.context(intent), orders.costs)

        self.app.push_screen(
            TicketScreen(
                defaults,
                orders.check,
                estimate,
                self.services.universe.resolve,
                orders.refused,
                clock=orders.clock,
                venue=self.header.mode,
                quote=orders.market.touch,
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

    def action_add_symbol(self) -> None:
        services = self.services
        watchlist = self.query_one(Watchlist)

        def validate(text: str) -> str:
            inst = services.find_symbol(text)
            if inst is None:
                listed = len(services.universe)
                if services.mode == "DEMO":
                    return (
                        f"Unknown symbol {text.strip()!r}: the simulated market lists "
                        f"{listed} instruments (e.g. 600519 or 510300.SSE)."
                    )
                return f"{text.strip()!r} is not an A-share or ETF code (e.g. 600000 or 159915)."
            if inst.vt_symbol in watchlist.symbols:
                return f"{inst.vt_symbol} is already on the watchlist."
            return ""

        def done(text: str | None) -> None:
            inst = services.add_symbol(text) if text else None
            if inst is None:
                return
            self.instruments.setdefault(inst.vt_symbol, inst)  # the panes' instruments
            if watchlist.add_symbol(inst.vt_symbol):
                self.watchlist_store.save(watchlist.symbols)
                services.watched = set(watchlist.symbols)
                self.notify(f"Added {inst.vt_symbol} {inst.name}")

        self.app.push_screen(
            TextPromptScreen("Add a symbol (code, e.g. 600519 or 510300.SSE):", validate), done
        )
