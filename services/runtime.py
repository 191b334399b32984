"""Builds and owns the services: one place that wires the bus handlers.

Handler order matters and is stated here with priorities (``services.bus.Priority``):
the journal records broker events first, then our ledger and order tracking
update, then the services that react to them; the UI bridge (registered by the
console, at ``Priority.UI``) sees them last.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
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
    EVENT_INTENT_SUBMITTED,
    EVENT_LOG,
    EVENT_ORDER,
    EVENT_STRATEGIES,
    EVENT_TICK,
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
from services.ops.backup import BackupConfig, backup_job
from services.ops.control_server import ControlChannelError, ControlServer
from services.ops.health import HealthMonitor, MonitorConfig
from services.ops.metrics import MetricsConfig, MetricsServer
from services.ops.modes import LIVE, journal_path, recordings_dir, set_aside_replay_journal
from services.ops.scheduler import JobsConfig, Scheduler
from services.records.journal import Journal
from services.records.recovery import is_restored
from services.settings import require
from services.store import Store, StoreError
from services.trading.accounts import AccountWatch, LiveAccount, retire
from services.trading.control import TradingControl
from services.trading.desk import Desk, open_desk
from services.trading.execution import ExecutionMonitor
from services.trading.flatten import FlattenPlan, plan_flatten
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
    :class:`services.market_data.MarketData`.

    Trading is in :attr:`desks` (services.trading.desk): one in demo, paper and replay,
    one per account in live mode. ``journal``, ``portfolio``, ``control``, ``orders`` and
    the rest are the *selected* desk's -- the account the screen shows and the ticket
    sends to (the first account until the trader picks another); strategies and the
    review queue trade the first account, :attr:`primary`.
    """

    data_dir: Path
    bus: Bus
    desks: list[Desk]
    universe: Universe
    market: MarketCache
    gateway: SimGateway | QuoteGateway
    store: Store
    scheduler: Scheduler
    data: DataConfig
    fetch: FetchConfig
    universes: dict[str, tuple[str, ...]]
    backtests: BacktestRunner
    live: LiveRunner
    execution: ExecutionMonitor
    review: ReviewQueue
    recovery_notes: list[str] = field(default_factory=list)
    control_server: ControlServer | None = None
    mode: str = "DEMO"  # the badge: DEMO, PAPER, REPLAY or LIVE
    watched: set[str] = field(default_factory=set)  # the watchlist (the console keeps it)
    calendar: TradingCalendar = field(default_factory=lambda: TradingCalendar(list))
    bars: BarRecorder | None = None  # paper mode: minute bars of the live quotes, stored
    feed_stale_s: float = 15.0  # [feed] stale_s: real quotes older than this are stale
    fresh: bool = False  # the data directory was brand new at this start (no journal yet)
    paced: bool = True
    started: bool = False
    selected: int = 0  # the index in desks of the account on screen
    health: HealthMonitor | None = None  # the system monitor (M, the header, metrics)
    metrics: MetricsServer | None = None  # [metrics] port: the Prometheus endpoint

    # -- the selected desk -----------------------------------------------------------------
    @property
    def desk(self) -> Desk:
        return self.desks[self.selected]

    @property
    def primary(self) -> Desk:
        """The first account: where strategies' approved proposals go."""
        return self.desks[0]

    @property
    def journal(self) -> Journal:
        return self.desk.journal

    @property
    def portfolio(self) -> Portfolio:
        return self.desk.portfolio

    @property
    def control(self) -> TradingControl:
        return self.desk.control

    @property
    def orders(self) -> OrderService:
        return self.desk.orders

    @property
    def risk(self) -> RiskMonitor:
        return self.desk.risk

    @property
    def venue(self) -> Any:
        return self.desk.venue

    @property
    def watch(self) -> AccountWatch | None:
        return self.desk.watch

    @property
    def account_id(self) -> str:
        return self.desk.id

    def badge(self, account: str) -> str:
        """The mode badge for an account: ``LIVE main``; the mode alone for its own."""
        return f"{self.mode} {account}".strip()

    def desk_of(self, account: str) -> Desk | None:
        return next((d for d in self.desks if d.id == account), None)

    def select(self, account: str) -> Desk:
        """Show and trade ``account`` (its id); a KeyError for an unknown one."""
        for i, desk in enumerate(self.desks):
            if desk.id == account:
                self.selected = i
                return desk
        raise KeyError(account)

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
        for desk in self.desks:  # journal, ledgers and the screen see them again
            for order in desk.restored_orders:
                self.gateway.on_order(order)
            desk.restored_orders = []
        self.gateway.connect({"paced": self.paced})
        if self.health is not None:
            self.health.start()
        for desk in self.desks:
            desk.connect()
        if self.bars is not None:
            self.bars.start()
        self.started = True

    def open_control(self) -> None:
        """Listen for ``quantdesk halt``; :class:`ControlChannelError` if the address is taken."""
        server = ControlServer(
            self.data_dir,
            lambda reason: self.kill_switch(f"{reason} (from another shell)"),
            " ".join([self.mode.lower(), *(d.id for d in self.desks)]).strip(),  # whose
        )
        server.start()
        self.control_server = server

    def stop(self) -> None:
        if self.control_server is not None:
            self.control_server.stop()
        if self.metrics is not None:
            self.metrics.stop()
        self.backtests.stop()
        self.scheduler.stop()
        if not self.started:
            for desk in self.desks:
                desk.journal.close()
            return
        self.gateway.close()
        if self.health is not None:
            self.health.stop()
        for desk in self.desks:
            if desk.watch is not None:
                desk.watch.stop()
            if desk.venue is not None:
                retire(desk.venue, self.bus)
        if self.bars is not None:
            self.bars.stop()  # the last bars are written before the store closes
        self.bus.stop()
        for desk in self.desks:
            desk.journal.close()
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
        symbols.update(self.gateway.working_symbols())
        for desk in self.desks:
            symbols.update(p.vt_symbol for p in desk.portfolio.view().positions)
            symbols.update(desk.orders.working_symbols())  # live: working at the broker
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
        desk = self.desk_of(result.account) or self.desk
        desk.journal.record(
            "acknowledged", result.account, {"differences": list(result.differences)}
        )

    def kill_switch(self, reason: str = "kill switch") -> list[str]:
        """HALT every account first (nothing new goes out), cancel every working order,
        stop every strategy and reject every proposal awaiting review.

        Called directly from the UI thread: it never waits behind the bus queue.
        """
        for desk in self.desks:
            desk.control.halt(reason)
        cancelled = [i for desk in self.desks for i in desk.orders.cancel_all(reason)]
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
    accounts: Sequence[LiveAccount] = (),
    backup: BackupConfig | None = None,
    config_file: Path | None = None,
    monitor: MonitorConfig | None = None,
    metrics: MetricsConfig | None = None,
) -> Services:
    """Create the services: over the simulated market (demo), live quotes (paper) or a
    recording (replay), each with its own journal and paper account (services.ops.modes);
    or (live) one desk per broker account in ``accounts``, orders going to its gateway."""
    data_dir.mkdir(parents=True, exist_ok=True)
    bus = Bus()
    live_ids = [a.spec.id for a in accounts]
    if (mode == LIVE) != bool(accounts) or len(set(live_ids)) != len(live_ids):
        raise ValueError(f"live mode needs its accounts, once each; got {live_ids} in {mode}")
    quotes = {a.spec.quotes for a in accounts}
    if len(quotes) > 1:
        raise ValueError(f"accounts traded together share one quote source, got {quotes}")
    journals = [_open_journal(data_dir, mode, a.spec.id) for a in accounts] or [
        _open_journal(data_dir, mode, "")
    ]
    fresh = any(fresh for _, fresh in journals)
    universe = Universe(instruments)
    market = MarketCache()
    store_ = Store.of(data_dir, store)
    calendar = TradingCalendar(lambda: _stored_calendar(store_))
    feed = feed or FeedConfig()
    gateway: SimGateway | QuoteGateway
    first = journals[0][0]
    if mode == "demo" or quotes == {"sim"}:
        gateway = SimGateway(bus, universe, sim, costs, account.initial_cash)
    else:
        record = recordings_dir(data_dir) if mode == "paper" and feed.record else None
        gateway = _quote_gateway(
            bus, first, universe, calendar, costs, account, feed, replay, speed, record
        )
        market.clock = gateway.clock.now
        if risk is None or risk.stale_quote_s:  # real quotes: the feed's stale_s, if tighter
            risk = risk or RiskConfig()
            risk = dataclasses.replace(risk, stale_quote_s=min(risk.stale_quote_s, feed.stale_s))
        if mode == "replay":
            first.clock = gateway.clock.now
    bus.register(EVENT_TICK, market.on_tick, Priority.LEDGER)
    traded: list[LiveAccount | None] = [*accounts] or [None]  # None: the mode's paper account
    desks = [
        open_desk(
            bus,
            journal,
            universe=universe,
            market=market,
            costs=costs,
            initial_cash=account.initial_cash,
            risk=risk or RiskConfig(),
            paper=gateway,
            account=live,
        )
        for (journal, _), live in zip(journals, traded, strict=True)
    ]
    primary = desks[0]
    execution = ExecutionMonitor()  # keyed by vt_orderid, which names the account
    S = Priority.SERVICE
    bus.register(EVENT_INTENT_SUBMITTED, execution.on_submitted, S)
    bus.register(EVENT_ORDER, execution.on_order, S)
    bus.register(EVENT_TRADE, execution.on_trade, S)
    bus.register(EVENT_LOG, _log_gateway)
    portfolio, orders = primary.portfolio, primary.orders

    def position(vt_symbol: str) -> tuple[int, int]:
        return portfolio.qty(vt_symbol), orders.sellable(vt_symbol)

    def touch(vt_symbol: str, side: str) -> float:
        price = market.touch(vt_symbol, side)
        if price is None:
            return 0.0
        return universe.get(vt_symbol).round_price(price) if vt_symbol in universe else price

    queue = ReviewQueue(bus, primary.journal, orders, market, review or ReviewConfig())

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
    notes = [
        f"account {d.id}: {note}" if len(desks) > 1 else note for d in desks for note in d.notes
    ]
    if any(d.control.state is TradingState.HALTED for d in desks):  # a halt stopped them
        live.running.clear()
        notes.append("trading is HALTED: strategies stay stopped until you start them")
    elif accounts and live.running:  # real money: each is started by hand
        live.running.clear()
        notes.append("live account: strategies start stopped; start each with s (strategies)")
    for item in primary.pending:
        queue.restore(proposal_from_journal(item))
    bus.register(EVENT_TICK, live.on_tick, S)  # after the quote cache: it prices proposals
    for note in notes:
        (log.info if is_restored(note) else log.warning)("%s", note)
    jobs = jobs or JobsConfig()
    scheduler = Scheduler(bus, primary.journal, jobs)
    backtests = BacktestRunner(bus, store_, backtest or BacktestConfig(), costs, data_dir)
    services = Services(
        data_dir=data_dir,
        bus=bus,
        desks=desks,
        universe=universe,
        market=market,
        gateway=gateway,
        store=store_,
        scheduler=scheduler,
        data=data or DataConfig(),
        fetch=fetch or FetchConfig(),
        universes=universes or {},
        backtests=backtests,
        recovery_notes=notes,
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
    services.health = HealthMonitor(
        bus,
        data_dir,
        monitor or MonitorConfig(),
        feed_age=market.newest_age,
        journals=lambda: [d.journal.path for d in desks],
    )
    bus.register(EVENT_CONNECTION, services.health.on_connection)
    if metrics is not None and metrics.port:  # started by the command (it can say why not)
        services.metrics = MetricsServer(services, metrics)
    if mode == "paper":  # what was seen goes into the store (bars_1m, source live)
        services.bars = BarRecorder(store_)
        bus.register(EVENT_TICK, services.bars.on_tick, S)
    if mode == "replay":  # everything stamped in the recording's time: identical journals
        live.clock = orders.clock = first.clock
        live.unique = lambda: "r"  # a replay's journal is fresh: the counter is unique
    if jobs.daily_sync:
        scheduler.add("daily_sync", jobs.daily_sync, services.daily_sync)
    if jobs.backup and mode != "replay":  # a replay's journal is thrown away at the next
        body = backup_job(data_dir, backup or BackupConfig(), store, config_file)
        scheduler.add("backup", jobs.backup, body)
    scheduler.trading_day = calendar.is_trading_day  # the feed's holidays are the scheduler's
    return services


def _open_journal(data_dir: Path, mode: str, account_id: str) -> tuple[Journal, bool]:
    """The journal of a mode (or a live account) and whether it is new."""
    path = journal_path(data_dir, mode, account_id)
    if mode == "replay":
        set_aside_replay_journal(data_dir)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fresh = not path.exists()
    return Journal(path, durable=mode == LIVE), fresh  # a real account: FULL, see journal.py
