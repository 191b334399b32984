"""Builds the services: one place that wires the bus handlers.

Handler order matters and is stated here with priorities (``services.bus.Priority``):
the journal records broker events first, then our ledger and order tracking
update, then the services that react to them; the UI bridge (registered by the
console, at ``Priority.UI``) sees them last.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from vnpy.event import Event

from services.accounting.costs import CostConfig
from services.alerts.rules import AlertRules
from services.alerts.service import AlertService
from services.alerts.telegram import TelegramControl
from services.alerts.wiring import Alerting, summary_job
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
    StrategiesChanged,
    TradingState,
)
from services.feed.config import FeedConfig
from services.feed.gateway import QuoteGateway
from services.feed.recorder import BarRecorder
from services.feed.sessions import TradingCalendar
from services.instruments import DEFAULT_UNIVERSE, Instrument, Universe
from services.market import MarketCache
from services.ops.backup import BackupConfig, backup_job
from services.ops.health import HealthMonitor, MonitorConfig
from services.ops.metrics import TOKEN_FILE, MetricsConfig, MetricsServer
from services.ops.modes import (
    LIVE,
    journal_path,
    recordings_dir,
    set_aside_replay_journal,
    traded_before,
)
from services.ops.scheduler import JobsConfig, Scheduler
from services.records.journal import Journal
from services.records.recovery import is_restored
from services.runtime.services import AccountConfig, Services
from services.store import Store, StoreError
from services.trading.accounts import LiveAccount
from services.trading.desk import open_desk
from services.trading.execution import ExecutionMonitor
from services.trading.live import LiveRunner, StrategySpec, proposal_from_journal
from services.trading.review import ReviewConfig, ReviewQueue
from services.trading.risk import RiskConfig
from services.venues.paper import PaperBroker
from services.venues.sim_gateway import SimGateway
from services.venues.simulator import SimConfig

log = logging.getLogger("quantdesk.runtime")
gateway_log = logging.getLogger("quantdesk.gateway")


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
    alerting: Alerting | None = None,
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
    brand_new = not traded_before(data_dir)  # before this start adds its own journal
    journals = [_open_journal(data_dir, mode, a.spec.id) for a in accounts] or [
        _open_journal(data_dir, mode, "")
    ]
    fresh = brand_new and any(fresh for _, fresh in journals)
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

    def working_buys(vt_symbol: str) -> int:
        """Shares of the symbol's working buys not yet filled: bought, as far as a new
        entry is concerned (an approved buy still resting must not be proposed again)."""
        return sum(
            i.qty - traded
            for _, i, traded in orders.working()
            if i.vt_symbol == vt_symbol and i.side == "buy"
        )

    live = LiveRunner(
        strategies or [],
        position,
        touch,
        queue.propose,
        entry,
        equity=lambda: portfolio.view().equity,
        lot=lambda s: universe.get(s).lot if s in universe else 100,
        working_buys=working_buys,
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
        services.metrics = MetricsServer(services, metrics, data_dir / TOKEN_FILE)
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
    _attach_alerting(services, alerting or Alerting(), jobs.daily_summary, feed.stale_s)
    return services


def _attach_alerting(services: Services, alerting: Alerting, summary: str, stale_s: float) -> None:
    """Alerts from the bus to the channels, the daily summary, and (opt-in) the phone."""
    universe = services.universe

    def name_of(vt_symbol: str) -> str:
        return universe.get(vt_symbol).name if vt_symbol in universe else ""

    rules = AlertRules(alerting.config, stale_s=stale_s, name_of=name_of)
    if alerting.channels:
        service = AlertService(
            services.bus, alerting.config, list(alerting.channels), services.data_dir, rules
        )
        service.register()
        services.alerts = service
    if summary and services.mode != "REPLAY":
        services.scheduler.add("summary", summary, summary_job(services, services.alerts, rules))
    if alerting.telegram.control:

        def notify(title: str, body: str) -> None:
            if services.alerts is not None:
                services.alerts.raise_alert(rules.make("remote", title, body, f"remote:{title}"))

        services.remote = TelegramControl(
            alerting.telegram,
            alerting.telegram_token,
            services,
            services.primary.journal,
            services.kill_switch,
            notify,
        )
    if services.health is not None:  # a failing channel or poll shows in the header and on M
        alerts, remote = services.alerts, services.remote
        services.health.extra = lambda: [
            *(alerts.warnings() if alerts is not None else ()),
            *(remote.warnings() if remote is not None else ()),
        ]


def _open_journal(data_dir: Path, mode: str, account_id: str) -> tuple[Journal, bool]:
    """The journal of a mode (or a live account) and whether it is new."""
    path = journal_path(data_dir, mode, account_id)
    if mode == "replay":
        set_aside_replay_journal(data_dir)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fresh = not path.exists()
    return Journal(path, durable=mode == LIVE), fresh  # a real account: FULL, see journal.py
