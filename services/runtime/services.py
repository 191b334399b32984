"""The services behind the screen (:class:`Services`) and what they do across accounts:
start and stop, the kill switch, flatten, symbols. Built by :mod:`services.runtime.build`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.accounting.portfolio import Portfolio
from services.alerts.service import AlertService
from services.alerts.telegram import TelegramControl
from services.backtest.runner import BacktestRunner
from services.bus import Bus
from services.data.fetch import FetchConfig
from services.data.sync import DataConfig
from services.events import (
    Reconciled,
    TradingState,
)
from services.feed.gateway import QuoteGateway
from services.feed.recorder import BarRecorder
from services.feed.sessions import TradingCalendar
from services.instruments import Instrument, Universe, instrument_for
from services.market import MarketCache
from services.market_data import MarketData
from services.ops.control_server import ControlChannelError, ControlServer
from services.ops.health import HealthMonitor
from services.ops.metrics import MetricsServer
from services.ops.scheduler import Scheduler
from services.records.journal import Journal
from services.settings import require
from services.store import Store
from services.trading.accounts import AccountWatch, retire
from services.trading.control import TradingControl
from services.trading.desk import Desk
from services.trading.execution import ExecutionMonitor
from services.trading.flatten import FlattenPlan, plan_flatten
from services.trading.live import LiveRunner
from services.trading.orders import OrderService, SubmitResult
from services.trading.review import ReviewQueue
from services.trading.risk_monitor import RiskMonitor
from services.venues.sim_gateway import SimGateway

log = logging.getLogger("quantdesk.runtime")


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
    alerts: AlertService | None = None  # [alerts] channels: alerts off the bus thread
    remote: TelegramControl | None = None  # [telegram] control: commands from a phone

    def __post_init__(self) -> None:
        for desk in self.desks:  # a HALT another process wrote is obeyed before any send
            desk.orders.on_outside_halt = lambda reason: self.kill_switch(reason)

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
        if self.alerts is not None:
            self.alerts.start()  # first: what the start itself raises is delivered
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
        if self.remote is not None:
            self.remote.start()
        self.started = True

    def open_control(self) -> None:
        """Listen for ``quantdesk halt``; :class:`ControlChannelError` if the address is taken."""
        server = ControlServer(
            self.data_dir,
            lambda reason: self.kill_switch(f"{reason} (from another shell)"),
            " ".join([self.mode.lower(), *(d.id for d in self.desks)]).strip(),  # whose
            watch=self.obey_persisted,
        )
        server.start()
        self.control_server = server

    def stop(self) -> None:
        if self.remote is not None:
            self.remote.stop()  # no more commands from a phone while stopping
        if self.control_server is not None:
            self.control_server.stop()
        if self.metrics is not None:
            self.metrics.stop()
        self.backtests.stop()
        self.scheduler.stop()
        if not self.started:
            if self.alerts is not None:
                self.alerts.stop()
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
        if self.alerts is not None:
            self.alerts.stop()  # what is still pending stays in the outbox for the next start
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

    def obey_persisted(self) -> list[str]:
        """Take up a HALT written to a journal by another process (``quantdesk halt`` when
        this one could not answer): the kill switch, as if it had got through."""
        for desk in self.desks:
            change = desk.control.obey_persisted()
            if change is not None:
                return self.kill_switch(change.reason)
        return []

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
