"""Builds and owns the services: one place that wires the bus handlers.

Handler order matters and is stated here with priorities (``services.bus.Priority``):
the journal records broker events first, then our ledger and order tracking
update, then the services that react to them; the UI bridge (registered by the
console, at ``Priority.UI``) sees them last.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from vnpy.event import Event

from services.accounting.costs import CostConfig
from services.accounting.portfolio import Portfolio
from services.backtest.rules import BacktestConfig
from services.backtest.runner import BacktestRunner
from services.bus import Bus, Priority
from services.data.fetch import FetchConfig
from services.data.sources import make_source
from services.data.sync import DataConfig, Syncer, resolve_universe
from services.events import (
    EVENT_INTENT_REJECTED,
    EVENT_INTENT_SUBMITTED,
    EVENT_LOG,
    EVENT_ORDER,
    EVENT_SESSION_ROLLED,
    EVENT_STRATEGIES,
    EVENT_TICK,
    EVENT_TIMER,
    EVENT_TRADE,
    JobStatus,
    StrategiesChanged,
    TradingState,
)
from services.instruments import DEFAULT_UNIVERSE, Instrument, Universe
from services.market import MarketCache
from services.ops.control_server import ControlChannelError, ControlServer
from services.ops.redact import redact
from services.ops.scheduler import JobResult, JobsConfig, Scheduler
from services.records.journal import Journal
from services.records.recovery import restore
from services.settings import require
from services.store import Store, StoreError, StoreInfo, store_uri
from services.trading.control import TradingControl
from services.trading.execution import ExecutionMonitor
from services.trading.flatten import FlattenPlan, plan_flatten
from services.trading.live import LiveRunner, StrategySpec, proposal_from_journal
from services.trading.orders import OrderService, SubmitResult
from services.trading.review import ReviewConfig, ReviewQueue
from services.trading.risk import RiskConfig
from services.trading.risk_monitor import RiskMonitor
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


@dataclass(frozen=True)
class MarketPrep:
    """What opening the store found: its info, yesterday's closes, a demo seeding, an error."""

    info: StoreInfo | None
    closes: dict[str, float]
    seeded: str
    error: str
    empty: bool = False  # the store opened but holds no daily bars (``error`` says what to do)


@dataclass
class Services:
    """Everything behind the screen; the App gets this injected."""

    data_dir: Path
    bus: Bus
    journal: Journal
    universe: Universe
    market: MarketCache
    gateway: SimGateway
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
    mode: str = "DEMO"
    fresh: bool = False  # the data directory was brand new at this start (no journal yet)
    paced: bool = True
    started: bool = False

    def start(self, prev_closes: dict[str, float] | None = None) -> None:
        """Start dispatching and open the market (non-blocking).

        ``prev_closes``: yesterday's closes (from the store) where the market opens;
        without them, the instruments' reference prices.
        """
        if self.started:
            return
        if prev_closes:
            self.gateway.market.set_prev_closes(prev_closes)
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
        self.started = True

    def open_control(self) -> None:
        """Listen for ``quantdesk halt``; :class:`ControlChannelError` if the address is taken."""
        server = ControlServer(
            self.data_dir, lambda reason: self.kill_switch(f"{reason} (from another shell)")
        )
        server.start()
        self.control_server = server

    def prepare_market(self) -> MarketPrep:
        """Open the store (seeding demo history into an empty one) and read the last closes.

        Never raises: a store that cannot be used is reported in ``error`` and the
        market opens at reference prices. Blocking (~0.5 s; a first start also writes
        the demo history): run it off the UI thread.
        """
        try:
            info = self.store.open()
            seeded = ""
            if not self.store.symbols("1d"):
                if not (self.fresh and self.mode == "DEMO"):
                    # A store emptied or deleted under a data directory in use is never
                    # refilled with synthetic bars: they would pass for real history.
                    return MarketPrep(
                        info,
                        {},
                        "",
                        f"the store {redact(self.store.uri)} has no daily bars: run `quantdesk "
                        "data sync` (or `quantdesk data demo` for the synthetic demo history); "
                        "the market opens at reference prices",
                        empty=True,
                    )
                seeded = self._seed_demo_history()
            closes = self.last_closes()
            self.seed_strategies()
        except (StoreError, OSError, ValueError) as exc:
            log.error("market data store unusable (%s): the market opens at reference prices", exc)
            return MarketPrep(None, {}, "", str(exc))
        return MarketPrep(info, closes, seeded, "")

    def seed_strategies(self) -> None:
        """Warm each strategy's window with stored bars, so it can act on the first live bar."""
        for spec in self.live.specs.values():
            for symbol in spec.symbols:
                try:
                    self.live.seed(symbol, spec.freq, self.store.read_bars(symbol, spec.freq))
                except StoreError as exc:
                    log.warning("strategy %s starts cold on %s: %s", spec.id, symbol, exc)

    def evaluate_daily(self) -> None:
        """After the daily sync: daily strategies see the new day's bar."""
        for spec in self.live.specs.values():
            if spec.freq != "1d":
                continue
            for symbol in spec.symbols:
                try:
                    bars = self.store.read_bars(symbol, "1d").tail(1)
                except StoreError:
                    continue
                for at, row in bars.iterrows():
                    self.live.on_bar(symbol, "1d", dict(row), pd.Timestamp(at).to_pydatetime())

    def last_closes(self) -> dict[str, float]:
        """The last stored daily close before the simulated day, per listed instrument."""
        day = self.gateway.market.trading_day
        closes: dict[str, float] = {}
        for inst in self.universe.instruments:
            if self.store.meta(inst.vt_symbol, "1d") is None:
                continue
            bars = self.store.read_bars(inst.vt_symbol, "1d", end=day - timedelta(days=1))
            if len(bars):
                closes[inst.vt_symbol] = float(bars["close"].iloc[-1])
        return closes

    def _seed_demo_history(self) -> str:
        from services.data.sources.demo import DemoSource

        day = self.gateway.market.trading_day
        log.info(
            "empty store: writing demo history for the %d listed instruments", len(self.universe)
        )
        source = DemoSource(day, instruments=self.universe.instruments)
        symbols = [i.vt_symbol for i in self.universe.instruments]
        lines = []
        for freq in ("1d", "1m"):
            summary = Syncer(self.store, source, self.data).sync(symbols, freq, end=day)
            lines.append(summary.lines()[0])
        return "; ".join(lines)

    def daily_sync(self, progress: Callable[[int, int, str], None]) -> JobResult:
        """The scheduled job: sync the configured universe's daily bars."""
        source = make_source(self.data.source, self.fetch, self.gateway.market.trading_day)
        symbols = resolve_universe(self.data.universe, self.universes)
        summary = Syncer(self.store, source, self.data).sync(
            symbols, "1d", progress=lambda n, total, o: progress(n, total, o.vt_symbol)
        )
        self.evaluate_daily()
        state: JobStatus = "failed"
        if summary.exit_code == 0:
            state = "ok"
        elif summary.exit_code == 3:
            state = "warning"
        return state, " · ".join(summary.lines()[:3])

    def is_trading_day(self, day: date) -> bool:
        """By the stored exchange calendar (weekdays when none is stored yet)."""
        calendar = self.store.calendar()
        return day in calendar if calendar and calendar[-1] >= day else day.weekday() < 5

    def stop(self) -> None:
        if self.control_server is not None:
            self.control_server.stop()
        self.backtests.stop()
        self.scheduler.stop()
        if not self.started:
            self.journal.close()
            return
        self.gateway.close()
        self.bus.stop()
        self.journal.close()
        self.started = False

    def flatten_preview(self) -> FlattenPlan:
        """One reduce-only closing order per position (services.trading.flatten)."""
        band = self.orders.risk.price_band_pct or 0.02
        return plan_flatten(self.portfolio.view().positions, self.market, self.universe, band)

    def flatten(self, plan: FlattenPlan) -> list[SubmitResult]:
        """Trading to REDUCING (only closing orders pass), then send the closing orders."""
        self.control.set_state(TradingState.REDUCING, "flatten after a halt")
        return [self.orders.submit(intent) for intent in plan.intents]

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
) -> Services:
    """Create the services over the simulated market and paper account."""
    data_dir.mkdir(parents=True, exist_ok=True)
    bus = Bus()
    fresh = not (data_dir / "journal.sqlite3").exists()
    journal = Journal(data_dir / "journal.sqlite3")
    universe = Universe(instruments)
    market = MarketCache()
    gateway = SimGateway(bus, universe, sim, costs, account.initial_cash)
    portfolio = Portfolio(universe, costs, account.initial_cash, market)
    control = TradingControl(journal, bus)
    journal.on_failure = control.journal_failed  # no write-ahead, no trading
    orders = OrderService(
        bus=bus,
        journal=journal,
        gateway=gateway,
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
        journal, portfolio, gateway.broker, orders, account.initial_cash
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
    for item in pending:
        queue.restore(proposal_from_journal(item))
    bus.register(EVENT_TICK, live.on_tick, S)  # after the quote cache: it prices proposals
    for note in notes:
        (log.info if note.startswith("restored") else log.warning)("%s", note)
    jobs = jobs or JobsConfig()
    scheduler = Scheduler(bus, journal, jobs)
    store_ = Store(store_uri(store, data_dir), log_file=data_dir / "logs" / "arcticdb.log")
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
    )
    if jobs.daily_sync:
        scheduler.add("daily_sync", jobs.daily_sync, services.daily_sync)
    scheduler.trading_day = services.is_trading_day
    return services
