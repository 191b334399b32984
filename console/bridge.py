"""The only bus→UI path.

Ticks are coalesced (latest per symbol) and posted as one
:class:`MarketRefreshed` message per UI frame, at ``refresh_hz``, together
with the marked account and the bus metrics. While the App has not applied
the previous frame, nothing new is posted: the dict keeps coalescing, so a
slow UI costs staleness, never an unbounded queue. Orders, fills, state
changes and log lines are posted at once and never dropped.

``App.post_message`` is thread-safe; ``call_from_thread`` is never used
here because it would block the bus's dispatcher until the UI is free.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from textual.message import Message
from vnpy.event import Event
from vnpy.trader.object import OrderData, TickData, TradeData

from services.accounting.book import AccountView
from services.bus import BusStats, Priority
from services.events import (
    EVENT_ALERT_DELIVERY,
    EVENT_BACKTEST,
    EVENT_CONNECTION,
    EVENT_FEED,
    EVENT_HANDLER_FAILED,
    EVENT_HEALTH,
    EVENT_JOB,
    EVENT_LOG_RECORDED,
    EVENT_ORDER,
    EVENT_RECONCILED,
    EVENT_REVIEW,
    EVENT_RISK_ALERT,
    EVENT_STRATEGIES,
    EVENT_TICK,
    EVENT_TRADE,
    EVENT_TRADING_STATE_CHANGED,
    AlertDelivery,
    BacktestUpdate,
    ConnectionChanged,
    FeedStatus,
    HandlerFailed,
    JobUpdated,
    LogRecorded,
    Reconciled,
    RiskAlert,
    StrategiesChanged,
    TradingStateChanged,
)
from services.ops.health import Health
from services.runtime import Services

if TYPE_CHECKING:
    from textual.app import App


class MarketRefreshed(Message, bubble=False):
    """One UI frame: latest ticks since the last frame, the account, the bus."""

    def __init__(
        self,
        ticks: dict[str, TickData],
        trails: dict[str, tuple[float, ...]],
        account: AccountView,
        bus: BusStats,
        clock: datetime | None,
        accounts: dict[str, AccountView] | None = None,
    ) -> None:
        super().__init__()
        self.ticks = ticks
        self.trails = trails
        self.account = account
        self.bus = bus
        self.clock = clock
        self.accounts = accounts or {}  # several live accounts: each one's, by id


@dataclass
class OrdersUpdated(Message, bubble=False):
    """The latest state of every order that changed since the last batch, in order."""

    orders: list[OrderData]


@dataclass
class TradeFilled(Message, bubble=False):
    trade: TradeData


@dataclass
class StateChanged(Message, bubble=False):
    change: TradingStateChanged


@dataclass
class JobChanged(Message, bubble=False):
    update: JobUpdated


@dataclass
class ReviewChanged(Message, bubble=False):
    pending: int


@dataclass
class RiskAlerted(Message, bubble=False):
    alert: RiskAlert


@dataclass
class BacktestChanged(Message, bubble=False):
    update: BacktestUpdate


@dataclass
class FeedChanged(Message, bubble=False):
    status: FeedStatus


@dataclass
class BrokerConnection(Message, bubble=False):
    change: ConnectionChanged


@dataclass
class AccountReconciled(Message, bubble=False):
    result: Reconciled


@dataclass
class StrategiesUpdated(Message, bubble=False):
    change: StrategiesChanged


@dataclass
class HealthRead(Message, bubble=False):
    health: Health


@dataclass
class AlertChannelChanged(Message, bubble=False):
    delivery: AlertDelivery


@dataclass
class LogLine(Message, bubble=False):
    record: LogRecorded


class Bridge:
    """Bus handlers that feed the App; a small thread paces market frames."""

    def __init__(
        self, app: App[Any], services: Services, refresh_hz: float, trail_points: int = 24
    ) -> None:
        self.app = app
        self.trail_points = trail_points
        self.services = services
        self.interval = 1.0 / refresh_hz
        self._pending: dict[str, TickData] = {}
        self._lock = threading.Lock()
        self._inflight = threading.Event()  # a frame is posted and not yet applied
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._clock: datetime | None = None
        self._orders: dict[str, OrderData] = {}  # latest state per order, insertion-ordered
        self._orders_inflight = threading.Event()
        self.frames = 0
        self.skipped = 0

    def register(self) -> None:
        """Register at ``Priority.UI``: every service handler sees an event first."""
        bus = self.services.bus
        app = self.app
        for type_, handler in (
            (EVENT_TICK, self.on_tick),
            (EVENT_ORDER, self.on_order),
            (EVENT_TRADE, self.on_trade),
            (EVENT_TRADING_STATE_CHANGED, self.on_state),
            (EVENT_LOG_RECORDED, self.on_log),
            (EVENT_HANDLER_FAILED, self.on_handler_failed),
            (EVENT_JOB, self.on_job),
            (EVENT_BACKTEST, self.on_backtest),
            (EVENT_REVIEW, lambda e: app.post_message(ReviewChanged(e.data))),
            (EVENT_RISK_ALERT, lambda e: app.post_message(RiskAlerted(e.data))),
            (EVENT_STRATEGIES, lambda e: app.post_message(StrategiesUpdated(e.data))),
            (EVENT_FEED, lambda e: app.post_message(FeedChanged(e.data))),
            (EVENT_CONNECTION, lambda e: app.post_message(BrokerConnection(e.data))),
            (EVENT_RECONCILED, lambda e: app.post_message(AccountReconciled(e.data))),
            (EVENT_HEALTH, lambda e: app.post_message(HealthRead(e.data))),
            (EVENT_ALERT_DELIVERY, lambda e: app.post_message(AlertChannelChanged(e.data))),
        ):
            bus.register(type_, handler, Priority.UI)
        # Quotes that arrived before the screen existed (a replay at full speed, the feed's
        # start-up snapshot) are in the quote cache: the first frame carries them.
        with self._lock:
            self._pending = {**self.services.market.latest(), **self._pending}

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="ui-bridge", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
            self._thread = None

    # -- bus handlers (dispatcher thread) ------------------------------------------------
    def on_tick(self, event: Event) -> None:
        tick: TickData = event.data
        with self._lock:
            self._pending[tick.vt_symbol] = tick

    def on_order(self, event: Event) -> None:
        order: OrderData = event.data
        with self._lock:
            self._orders.pop(order.vt_orderid, None)
            self._orders[order.vt_orderid] = order
        self.flush_orders()

    def on_trade(self, event: Event) -> None:
        self.app.post_message(TradeFilled(event.data))

    def on_state(self, event: Event) -> None:
        self.app.post_message(StateChanged(event.data))

    def on_job(self, event: Event) -> None:
        self.app.post_message(JobChanged(event.data))

    def on_backtest(self, event: Event) -> None:
        self.app.post_message(BacktestChanged(event.data))

    def on_log(self, event: Event) -> None:
        self.app.post_message(LogLine(event.data))

    def on_handler_failed(self, event: Event) -> None:
        failed: HandlerFailed = event.data
        if failed.count in (1, 10, 100) or failed.count % 1000 == 0:
            record = LogRecorded(
                datetime.now(),
                "ERROR",
                "bus",
                f"handler {failed.handler} failed on {failed.event_type} "
                f"({failed.count}×): {failed.error}",
            )
            self.app.post_message(LogLine(record))

    # -- order batches: never dropped, one batch in flight so a flood cannot bury ctrl+k ----
    def flush_orders(self) -> bool:
        if self._orders_inflight.is_set():
            return False
        with self._lock:
            if not self._orders:
                return False
            batch, self._orders = list(self._orders.values()), {}
            self._orders_inflight.set()
        if not self.app.post_message(OrdersUpdated(batch)):
            with self._lock:  # not accepting messages yet: put them back, retry later
                self._orders = {**{o.vt_orderid: o for o in batch}, **self._orders}
                self._orders_inflight.clear()
            return False
        return True

    def orders_applied(self) -> None:
        """The App calls this when it has applied an order batch."""
        self._orders_inflight.clear()
        self.flush_orders()

    # -- frames ------------------------------------------------------------------------------
    def flush(self) -> bool:
        """Post one market frame now unless the previous one is still unapplied."""
        if self._inflight.is_set():
            self.skipped += 1
            return False
        with self._lock:
            ticks, self._pending = self._pending, {}
        for tick in ticks.values():
            if self._clock is None or tick.datetime > self._clock:
                self._clock = tick.datetime
        self._inflight.set()
        market = self.services.market
        trails = {vt: market.trail(vt, self.trail_points) for vt in ticks}
        accounts = self._accounts()  # several accounts: the one shown is among them
        shown = accounts.get(self.services.account_id) if accounts else None
        posted = self.app.post_message(
            MarketRefreshed(
                ticks,
                trails,
                shown or self.services.portfolio.view(),
                self.services.bus.stats(),
                # the header shows seconds: a clock equal to the second repaints nothing
                self._market_clock(),
                accounts,
            )
        )
        if not posted:  # the App is not accepting messages (starting or closing): retry later
            self._inflight.clear()
            with self._lock:
                self._pending = {**ticks, **self._pending}
            return False
        self.frames += 1
        return True

    def _accounts(self) -> dict[str, AccountView] | None:
        """Several live accounts: every one's marked account, for the accounts bar."""
        desks = self.services.desks
        return {d.id: d.portfolio.view() for d in desks} if len(desks) > 1 else None

    def _market_clock(self) -> datetime | None:
        """The header's clock: on real quotes the exchange's time now (a replay's own), not
        the newest quote's, which stands still when the feed idles; the simulator's time."""
        clock = self.services.market.clock
        at = clock() if clock is not None else self._clock
        return at.replace(microsecond=0) if at else None

    def applied(self) -> None:
        """The App calls this when it has drawn a frame's data."""
        self._inflight.clear()

    def _run(self) -> None:
        next_at = time.perf_counter()
        while not self._stop.is_set():
            next_at = max(next_at + self.interval, time.perf_counter())  # late: skip, no burst
            self.flush()
            self.flush_orders()
            self._stop.wait(max(0.0, next_at - time.perf_counter()))
