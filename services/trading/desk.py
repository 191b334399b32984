"""One account's desk: its journal, ledger, risk limits, order path and trading state.

Demo, paper and replay have one desk, the mode's own paper account. Live mode has one
per account traded (``quantdesk --mode live --account A --account B``), each with its
own journal under ``accounts/<id>/``, its own limits, positions, P&L and HALT. The bus
is shared: a desk's handlers see only its own gateway's orders and fills (vnpy's
``gateway_name``, which is the account id) and its own intents, so one account's broker
failing, or one account's limit breaking, halts that account alone.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vnpy.event import Event
from vnpy.trader.gateway import BaseGateway

from services.accounting.costs import CostConfig
from services.accounting.portfolio import Portfolio
from services.bus import Bus, Priority
from services.events import (
    EVENT_CONNECTION,
    EVENT_INTENT_REJECTED,
    EVENT_ORDER,
    EVENT_SESSION_ROLLED,
    EVENT_TIMER,
    EVENT_TRADE,
)
from services.instruments import Universe
from services.market import MarketCache
from services.records.journal import Journal
from services.records.recovery import restore
from services.trading.accounts import AccountWatch, LiveAccount, statement_source
from services.trading.control import TradingControl
from services.trading.gateway_link import GatewayLink
from services.trading.orders import OrderService
from services.trading.risk import RiskConfig
from services.trading.risk_monitor import RiskMonitor

Handler = Callable[[Event], None]


@dataclass
class Desk:
    """An account's trading; ``id`` is "" for the mode's paper account."""

    id: str
    journal: Journal
    portfolio: Portfolio
    control: TradingControl
    orders: OrderService
    risk: RiskMonitor
    notes: list[str] = field(default_factory=list)  # what the restart restored, in words
    pending: list[dict[str, Any]] = field(default_factory=list)  # proposals awaiting review
    restored_orders: list[Any] = field(default_factory=list)  # published once the bus runs
    venue: BaseGateway | None = None  # live: the broker's gateway, not connected yet
    setting: dict[str, Any] = field(default_factory=dict)  # its connect() setting
    watch: AccountWatch | None = None
    link: GatewayLink | None = None  # a stock vnpy gateway's connection, from its events

    def kill(self, reason: str) -> list[str]:
        """HALT (nothing new goes out), then cancel every working order; the ids."""
        self.control.halt(reason)
        return self.orders.cancel_all(reason)

    def connect(self) -> None:
        """Connect the broker (returns at once; CONNECTED is reconciled before trading)."""
        if self.venue is None:
            return
        if self.link is not None:
            self.link.connecting()
        if self.watch is not None:
            self.watch.watch_connect()
        self.venue.connect(self.setting)


def own(account: str, handler: Handler) -> Handler:
    """``handler`` for one account's events only: its gateway's orders and trades, the
    intents its order path published. Unfiltered for the mode's own account ("")."""
    if not account:
        return handler

    def only(event: Event) -> None:
        data = event.data
        if getattr(data, "gateway_name", None) == account or getattr(data, "account", None) == (
            account
        ):
            handler(event)

    only.__qualname__ = f"{getattr(handler, '__qualname__', 'handler')}[{account}]"
    return only


def open_desk(
    bus: Bus,
    journal: Journal,
    *,
    universe: Universe,
    market: MarketCache,
    costs: CostConfig,
    initial_cash: float,
    risk: RiskConfig,
    paper: Any = None,
    account: LiveAccount | None = None,
) -> Desk:
    """Build one desk on ``journal``, register its handlers and restore it from the journal.

    ``paper``: the mode's gateway over the paper broker (demo, paper, replay), where
    orders go and into which working orders are restored; ``account``: a live account,
    whose gateway is created here, not connected.
    """
    account_id = account.spec.id if account else ""
    portfolio = Portfolio(universe, costs, initial_cash, market)
    journal.fee_of = portfolio.fee_of  # fills are journaled with the fee the ledger books
    control = TradingControl(journal, bus, account_id)
    journal.on_failure = control.journal_failed  # no write-ahead, no trading
    venue = account.gateway(bus) if account else None
    attach = getattr(venue, "attach", None)  # the built-in paper account joins the session
    if account is not None and attach is not None:
        attach(universe, costs, market, float(account.setting.get("initial_cash") or 0.0))
    if account is not None and account.spec.risk:  # the account's own limits
        risk = dataclasses.replace(risk, **account.spec.risk)
    orders = OrderService(
        bus=bus,
        journal=journal,
        gateway=venue or paper,
        universe=universe,
        market=market,
        portfolio=portfolio,
        control=control,
        costs=costs,
        risk=risk,
        account=account_id,
    )
    monitor = RiskMonitor(bus, portfolio, control, orders, orders.risk)
    J, L, S = Priority.JOURNAL, Priority.LEDGER, Priority.SERVICE

    def journal_trade(event: Event) -> None:
        why = unbookable(event.data)
        if not why:
            journal.on_trade(event)
            return
        trade = event.data  # recorded as reported, never booked: the account HALTs
        journal.record("bad_fill", trade.vt_orderid, {"vt_tradeid": trade.vt_tradeid, "why": why})
        control.halt(
            f"{account_id or 'the venue'}: trade {trade.vt_tradeid} reported with {why}: not "
            "booked; check it with the broker"
        )

    def book_trade(event: Event) -> None:
        if not unbookable(event.data):
            portfolio.on_trade(event)

    for kind, handler, priority in (
        (EVENT_ORDER, journal.on_order, J),
        (EVENT_TRADE, journal_trade, J),
        (EVENT_TRADE, book_trade, L),
        (EVENT_ORDER, orders.on_order, L),
        (EVENT_INTENT_REJECTED, monitor.on_rejected, S),
    ):
        bus.register(kind, own(account_id, handler), priority)
    bus.register(EVENT_SESSION_ROLLED, journal.on_session_rolled, J)
    bus.register(EVENT_SESSION_ROLLED, portfolio.on_session_rolled, L)
    bus.register(EVENT_SESSION_ROLLED, monitor.on_session_rolled, S)
    bus.register(EVENT_TIMER, monitor.on_timer, S)
    # A real broker keeps its account; a paper one (the mode's, or a paper account's) is
    # restored from the journal. A live account's cash opens from its broker's statement.
    notes, pending, restored = restore(
        journal,
        portfolio,
        getattr(venue, "broker", None) if venue else paper.broker,
        orders,
        0.0 if venue else initial_cash,
        halt=control.halt,
    )
    desk = Desk(account_id, journal, portfolio, control, orders, monitor, notes, pending, restored)
    if account is not None and venue is not None:
        desk.venue, desk.setting = venue, account.setting
        statement_source(venue, bus)  # before it connects: a stock gateway's login pushes
        if not getattr(venue, "publishes_connection", False):  # stock vnpy: from its events
            desk.link = GatewayLink(bus, venue)
        desk.watch = AccountWatch(account_id, venue, journal, bus, portfolio, control, orders)
        orders.blocked = "not reconciled with the broker yet"  # until the first one succeeds
        bus.register(EVENT_CONNECTION, orders.on_connection, L)
        bus.register(EVENT_CONNECTION, desk.watch.on_connection, S)
    return desk


def unbookable(trade: Any) -> str:
    """Why a broker's trade report cannot be booked ("" when it can): a price, volume or
    fee that is not a finite positive number."""
    fee = (trade.extra or {}).get("fee")
    checks = [("price", trade.price, False), ("volume", trade.volume, False)]
    if fee is not None:
        checks.append(("fee", fee, True))
    for what, value, zero_ok in checks:
        finite = isinstance(value, int | float) and math.isfinite(value)
        if not finite or value < 0 or (value == 0 and not zero_ok):
            return f"{what} {value!r}"
    return ""
