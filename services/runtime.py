"""Builds and owns the services: one place that wires the bus handlers.

Handler order matters and is stated here with priorities (``services.bus.Priority``):
the journal records broker events first, then our ledger and order tracking
update, then the services that react to them; the UI bridge (registered by the
console, at ``Priority.UI``) sees them last.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from vnpy.event import Event

from services.accounting.costs import CostConfig
from services.accounting.portfolio import Portfolio
from services.backtest.rules import BacktestConfig
from services.backtest.runner import BacktestRunner
from services.bus import Bus, Priority
from services.data.fetch import FetchConfig
from services.data.sync import DataConfig
from services.events import (
    EVENT_CONNECTION,
    EVENT_INTENT_REJECTED,
    EVENT_INTENT_SUBMITTED,
    EVENT_LOG,
    EVENT_ORDER,
    EVENT_SESSION_ROLLED,
    EVENT_STRATEGIES,
    EVENT_TICK,
    EVENT_TIMER,
    EVENT_TRADE,
    Reconciled,
    StrategiesChanged,
    TradingState,
)
from services.feed.config import FeedConfig
from services.feed.gateway import QuoteGateway
from services.feed.recorder import BarRecorder
from services.feed.sessions import TradingCalendar
from services.instruments import DEFAULT_UNIVERSE, Instrument, Universe, instrument_for
from services.market import MarketCache
from services.market_data import MarketData
from services.ops.control_server import ControlChannelError, ControlServer
from services.ops.modes import LIVE, journal_path, recordings_dir, set_aside_replay_journal
from services.ops.scheduler import JobsConfig, Scheduler
from services.records.journal import Journal
from services.records.recovery import restore
from services.settings import require
from services.store import Store, StoreError
from services.trading.accounts import AccountWatch, LiveAccount, retire, statement_source
from services.trading.control import TradingControl
from services.trading.execution import ExecutionMonitor
from services.trading.flatten import FlattenPlan, plan_flatten
from services.trading.gateway_link import GatewayLink
from services.trading.live import LiveRunner, StrategySpec, proposal_from_journal
from services.trading.orders import OrderService, SubmitResult
from services.trading.review import ReviewConfig, ReviewQueue
from services.trading.risk import RiskConfig
from services.trading.risk_monitor import RiskMonitor
from services.venues.paper import PaperBroker
from services.venues.sim_gateway import SimGateway
from services.venues.simulator import SimConfig

log = logging.getLogger("quantdesk.runtime")
gateway_log = logging.getLogger("quantdesk.gateway")


@dataclass(frozen=True)
class AccountConfig:
    """The paper account ([account] in config.toml)."""

    initial_cash: float = 1_000_000.0
    """Cash the paper account starts with, CNY."""

    def __post_init__(self) -> None:
        require(self.initial_cash > 0, "initial_cash", "must be a positive amount of CNY")


@dataclass
class Services(MarketData):
    """Everything behind the screen; the App gets this injected. The store-side work
    (opening the market from stored closes, demo history, the daily sync) is in
    :class:`services.market_data.MarketData`."""

    data_dir: Path
    bus: Bus
    journal: Journal
    universe: Universe
    market: MarketCache
    gateway: SimGateway | QuoteGateway
    portfolio: Portfolio
    control: TradingControl
    orders: OrderService
    store: Store
    scheduler: Scheduler
    data: DataConfig
    fetch: FetchConfig
    universes: dict[str, tuple[str, ...]]
    backtests: BacktestRunner
    risk: RiskMonitor
    live: LiveRunner
    execution: ExecutionMonitor
    review: ReviewQueue
    recovery_notes: list[str] = field(default_factory=list)
    restored_orders: list[Any] = field(default_factory=list)  # published once the bus runs
    control_server: ControlServer | None = None
    mode: str = "DEMO"  # the badge: DEMO, PAPER or REPLAY
    watched: set[str] = field(default_factory=set)  # the watchlist (the console keeps it)
    calendar: TradingCalendar = field(default_factory=lambda: TradingCalendar(list))
    bars: BarRecorder | None = None  # paper mode: minute bars of the live quotes, stored
    feed_stale_s: float = 15.0  # [feed] stale_s: real quotes older than this are stale
    fresh: bool = False  # the data directory was brand new at this start (no journal yet)
    paced: bool = True
    started: bool = False
    venue: Any = None  # live: the broker's gateway (orders go there); quotes stay on gateway
    venue_setting: dict[str, Any] = field(default_factory=dict)
    account_id: str = ""
    watch: AccountWatch | None = None
    link: GatewayLink | None = None  # a stock vnpy gateway's connection, from its events

    def start(self, prev_closes: dict[str, float] | None = None) -> None:
        """Start dispatching and open the market (non-blocking).

        ``prev_closes``: yesterday's closes (from the store) where the market opens;
        without them, the instruments' reference prices.
        """
        if self.started:
            return
        if prev_closes:
            self.gateway.set_prev_closes(prev_closes)
        if self.control_server is None:
            try:
                self.open_control()
            except ControlChannelError as exc:  # the CLI opens it first and refuses to start
                log.error("%s", exc)
        self.bus.start()
        for order in self.restored_orders:  # journal, ledgers and the screen see them again
            self.gateway.on_order(order)
        self.restored_orders = []
        self.gateway.connect({"paced": self.paced})
        if self.venue is not None:  # returns at once; CONNECTED is reconciled before trading
            if self.link is not None:
                self.link.connecting()
            if self.watch is not None:
                self.watch.watch_connect()
            self.venue.connect(self.venue_setting)
        if self.bars is not None:
            self.bars.start()
        self.started = True

    def open_control(self) -> None:
        """Listen for ``quantdesk halt``; :class:`ControlChannelError` if the address is taken."""
        server = ControlServer(
            self.data_dir,
            lambda reason: self.kill_switch(f"{reason} (from another shell)"),
            f"{self.mode.lower()} {self.account_id}".strip(),  # "live main": whose journal
        )
        server.start()
        self.control_server = server

    def stop(self) -> None:
        if self.control_server is not None:
            self.control_server.stop()
        self.backtests.stop()
        self.scheduler.stop()
        if not self.started:
            self.journal.close()
            return
        self.gateway.close()
        if self.watch is not None:
            self.watch.stop()
        if self.venue is not None:
            retire(self.venue, self.bus)
        if self.bars is not None:
            self.bars.stop()  # the last bars are written before the store closes
        self.bus.stop()
        self.journal.close()
        self.started = False

    def find_symbol(self, text: str) -> Instrument | None:
        """The instrument a trader typed: a listed one; in paper and replay any A-share or
        ETF symbol (listed by :meth:`list_symbol`)."""
        found = self.universe.resolve(text)
        if found is None and isinstance(self.gateway, QuoteGateway):
            found = instrument_for(text)
        return found

    def list_symbol(self, inst: Instrument) -> None:
        """Make ``inst`` tradable here (paper and replay; the demo lists a fixed market)."""
        if inst.vt_symbol in self.universe:
            return
        self.universe.add(inst)
        if isinstance(self.gateway, QuoteGateway):
            self.gateway.list_instrument(inst)

    def add_symbol(self, text: str) -> Instrument | None:
        """:meth:`find_symbol`, then :meth:`list_symbol`: the instrument, tradable here."""
        inst = self.find_symbol(text)
        if inst is not None:
            self.list_symbol(inst)
        return inst

    def symbols_that_matter(self) -> set[str]:
        """What the live feed polls: the watchlist, positions, working orders and the
        symbols of running strategies."""
        symbols = set(self.watched)
        symbols.update(p.vt_symbol for p in self.portfolio.view().positions)
        symbols.update(self.gateway.working_symbols())
        symbols.update(self.orders.working_symbols())  # live: working at the broker
        for spec in self.live.specs.values():
            if spec.id in self.live.running:
                symbols.update(spec.symbols)
        return symbols

    def flatten_preview(self) -> FlattenPlan:
        """One reduce-only closing order per position (services.trading.flatten)."""
        band = self.orders.risk.price_band_pct or 0.02
        return plan_flatten(self.portfolio.view().positions, self.market, self.universe, band)

    def flatten(self, plan: FlattenPlan) -> list[SubmitResult]:
        """Trading to REDUCING (only closing orders pass), then send the closing orders."""
        self.control.set_state(TradingState.REDUCING, "flatten after a halt")
        return [self.orders.submit(intent) for intent in plan.intents]

    def acknowledge_reconciliation(self, result: Reconciled) -> None:
        """The trader has seen a reconciliation's differences: that is journaled."""
        self.journal.record(
            "acknowledged", result.account, {"differences": list(result.differences)}
        )

    def kill_switch(self, reason: str = "kill switch") -> list[str]:
        """HALT first (nothing new goes out), cancel every working order, stop every
        strategy and reject every proposal awaiting review.

        Called directly from the UI thread: it never waits behind the bus queue.
        """
        self.control.halt(reason)
        cancelled = self.orders.cancel_all(reason)
        self.live.stop_all(reason)
        self.review.reject_all(None, reason)
        return cancelled


def _stored_calendar(store: Store) -> list[date] | None:
    """The exchange calendar ``data sync`` stored ([] when none: weekdays count as open);
    None while the store cannot be read (asked again next time)."""
    try:
        return store.calendar()
    except StoreError as exc:
        log.debug("trading calendar not readable yet (%s): weekdays count as open", exc)
        return None


def _quote_gateway(
    bus: Bus,
    journal: Journal,
    universe: Universe,
    calendar: TradingCalendar,
    costs: CostConfig,
    account: AccountConfig,
    feed: FeedConfig,
    replay: Path | None,
    speed: float,
    record_dir: Path | None,
) -> QuoteGateway:
    """Paper and replay: real quotes, the conservative paper broker, the stored calendar."""

    rolled = journal.entries("day")
    last_day = date.fromisoformat(rolled[-1]["ref"]) if rolled else None
    broker = PaperBroker(universe, costs, account.initial_cash, "PAPER", conservative=True)
    return QuoteGateway(
        bus,
        universe,
        broker,
        feed,
        calendar,
        replay=replay,
        speed=speed,
        record_dir=record_dir,
        last_day=last_day,
    )


def _log_gateway(event: Event) -> None:
    data: Any = event.data
    gateway_log.info("%s", data.msg)


def build_services(
    data_dir: Path,
    *,
    sim: SimConfig,
    costs: CostConfig,
    account: AccountConfig,
    instruments: tuple[Instrument, ...] = DEFAULT_UNIVERSE,
    paced: bool = True,
    store: str = "",
    data: DataConfig | None = None,
    fetch: FetchConfig | None = None,
    jobs: JobsConfig | None = None,
    universes: dict[str, tuple[str, ...]] | None = None,
    backtest: BacktestConfig | None = None,
    risk: RiskConfig | None = None,
    strategies: list[StrategySpec] | None = None,
    review: ReviewConfig | None = None,
    mode: str = "demo",
    feed: FeedConfig | None = None,
    replay: Path | None = None,
    speed: float = 1.0,
    account_live: LiveAccount | None = None,
) -> Services:
    """Create the services: over the simulated market (demo), live quotes (paper) or a
    recording (replay), each with its own journal and paper account (services.ops.modes);
    or (live) a broker account, its orders going to its gateway."""
    data_dir.mkdir(parents=True, exist_ok=True)
    bus = Bus()
    if mode == LIVE and account_live is None:
        raise ValueError("live mode needs the account (LiveAccount)")
    path = journal_path(data_dir, mode, account_live.spec.id if account_live else "")
    if mode == "replay":
        set_aside_replay_journal(data_dir)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fresh = not path.exists()
    journal = Journal(path, durable=mode == LIVE)  # a real account: FULL, see journal.py
    universe = Universe(instruments)
    market = MarketCache()
    store_ = Store.of(data_dir, store)
    calendar = TradingCalendar(lambda: _stored_calendar(store_))
    feed = feed or FeedConfig()
    gateway: SimGateway | QuoteGateway
    if mode == "demo" or (account_live is not None and account_live.spec.quotes == "sim"):
        gateway = SimGateway(bus, universe, sim, costs, account.initial_cash)
    else:
        record = recordings_dir(data_dir) if mode == "paper" and feed.record else None
        gateway = _quote_gateway(
            bus, journal, universe, calendar, costs, account, feed, replay, speed, record
        )
        market.clock = gateway.clock.now
        if risk is None or risk.stale_quote_s:  # real quotes: the feed's stale_s, if tighter
            risk = risk or RiskConfig()
            risk = dataclasses.replace(risk, stale_quote_s=min(risk.stale_quote_s, feed.stale_s))
        if mode == "replay":
            journal.clock = gateway.clock.now
    portfolio = Portfolio(universe, costs, account.initial_cash, market)
    journal.fee_of = portfolio.fee_of  # fills are journaled with the fee the ledger books
    control = TradingControl(journal, bus)
    journal.on_failure = control.journal_failed  # no write-ahead, no trading
    venue = account_live.gateway(bus) if account_live else None  # a broker's; not connected
    if account_live is not None and account_live.spec.risk:  # the account's own limits
        risk = dataclasses.replace(risk or RiskConfig(), **account_live.spec.risk)
    orders = OrderService(
        bus=bus,
        journal=journal,
        gateway=venue or gateway,
        universe=universe,
        market=market,
        portfolio=portfolio,
        control=control,
        costs=costs,
        risk=risk,
    )
    monitor = RiskMonitor(bus, portfolio, control, orders, orders.risk)
    # Explicit order (services.bus.Priority): the journal first, then our ledgers, then the
    # services that react to both; the UI bridge runs last whenever it registers.
    J, L, S = Priority.JOURNAL, Priority.LEDGER, Priority.SERVICE
    bus.register(EVENT_ORDER, journal.on_order, J)
    bus.register(EVENT_TRADE, journal.on_trade, J)
    bus.register(EVENT_SESSION_ROLLED, journal.on_session_rolled, J)
    bus.register(EVENT_TICK, market.on_tick, L)
    bus.register(EVENT_TRADE, portfolio.on_trade, L)
    bus.register(EVENT_ORDER, orders.on_order, L)
    bus.register(EVENT_SESSION_ROLLED, portfolio.on_session_rolled, L)
    bus.register(EVENT_SESSION_ROLLED, monitor.on_session_rolled, S)
    bus.register(EVENT_TIMER, monitor.on_timer, S)
    bus.register(EVENT_INTENT_REJECTED, monitor.on_rejected, S)
    execution = ExecutionMonitor()
    bus.register(EVENT_INTENT_SUBMITTED, execution.on_submitted, S)
    bus.register(EVENT_ORDER, execution.on_order, S)
    bus.register(EVENT_TRADE, execution.on_trade, S)
    bus.register(EVENT_LOG, _log_gateway)
    notes, pending, restored_orders = restore(
        journal,
        portfolio,
        None if venue else gateway.broker,
        orders,
        0.0 if venue else account.initial_cash,  # live: the broker's opening balance
    )

    def position(vt_symbol: str) -> tuple[int, int]:
        return portfolio.qty(vt_symbol), orders.sellable(vt_symbol)

    def touch(vt_symbol: str, side: str) -> float:
        price = market.touch(vt_symbol, side)
        if price is None:
            return 0.0
        return universe.get(vt_symbol).round_price(price) if vt_symbol in universe else price

    queue = ReviewQueue(bus, journal, orders, market, review or ReviewConfig())

    def entry(vt_symbol: str) -> float:
        held = [p for p in portfolio.view().positions if p.vt_symbol == vt_symbol]
        return held[0].avg_price if held else 0.0

    live = LiveRunner(
        strategies or [],
        position,
        touch,
        queue.propose,
        entry,
        equity=lambda: portfolio.view().equity,
        lot=lambda s: universe.get(s).lot if s in universe else 100,
    )
    queue.on_settled = live.settled
    live.on_changed = lambda running, why: bus.publish(
        EVENT_STRATEGIES, StrategiesChanged(running, why)
    )
    if control.state is TradingState.HALTED:  # a halt stopped them; a restart keeps them so
        live.running.clear()
        notes.append("trading is HALTED: strategies stay stopped until you start them")
    elif account_live is not None and live.running:  # real money: each is started by hand
        live.running.clear()
        notes.append("live account: strategies start stopped; start each with s (strategies)")
    for item in pending:
        queue.restore(proposal_from_journal(item))
    bus.register(EVENT_TICK, live.on_tick, S)  # after the quote cache: it prices proposals
    for note in notes:
        (log.info if note.startswith("restored") else log.warning)("%s", note)
    jobs = jobs or JobsConfig()
    scheduler = Scheduler(bus, journal, jobs)
    backtests = BacktestRunner(bus, store_, backtest or BacktestConfig(), costs, data_dir)
    services = Services(
        data_dir=data_dir,
        bus=bus,
        journal=journal,
        universe=universe,
        market=market,
        gateway=gateway,
        portfolio=portfolio,
        control=control,
        orders=orders,
        store=store_,
        scheduler=scheduler,
        data=data or DataConfig(),
        fetch=fetch or FetchConfig(),
        universes=universes or {},
        backtests=backtests,
        risk=monitor,
        recovery_notes=notes,
        restored_orders=restored_orders,
        execution=execution,
        live=live,
        review=queue,
        paced=paced,
        fresh=fresh,
        calendar=calendar,
        mode=mode.upper(),
        feed_stale_s=feed.stale_s,
        watched={i.vt_symbol for i in universe.instruments},
    )
    if isinstance(gateway, QuoteGateway):
        gateway.wanted = services.symbols_that_matter
    if account_live is not None and venue is not None:
        account_id = account_live.spec.id
        services.venue, services.account_id = venue, account_id
        services.venue_setting = account_live.setting
        statement_source(venue, bus)  # before it connects: a stock gateway's login pushes
        if not getattr(venue, "publishes_connection", False):  # stock vnpy: from its events
            services.link = GatewayLink(bus, venue)
        services.watch = AccountWatch(account_id, venue, journal, bus, portfolio, control, orders)
        orders.blocked = "not reconciled with the broker yet"  # until the first one succeeds
        bus.register(EVENT_CONNECTION, orders.on_connection, L)
        bus.register(EVENT_CONNECTION, services.watch.on_connection, S)
    if mode == "paper":  # what was seen goes into the store (bars_1m, source live)
        services.bars = BarRecorder(store_)
        bus.register(EVENT_TICK, services.bars.on_tick, S)
    if mode == "replay":  # everything stamped in the recording's time: identical journals
        live.clock = orders.clock = journal.clock
        live.unique = lambda: "r"  # a replay's journal is fresh: the counter is unique
    if jobs.daily_sync:
        scheduler.add("daily_sync", jobs.daily_sync, services.daily_sync)
    scheduler.trading_day = calendar.is_trading_day  # the feed's holidays are the scheduler's
    return services
