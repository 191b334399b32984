"""A broker account at work: connect its gateway, reconcile, halt it on a difference.

What ``quantdesk reconcile`` runs, and what live mode runs at every connect. The
account's journal (``<data dir>/accounts/<id>/journal.sqlite3``) is its own; the
first reconciliation of an empty journal records the broker's cash and holdings
as the *opening* of the ledger (an account that held shares before quantdesk is
adopted as it is), every later one compares against it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from vnpy.event import Event
from vnpy.trader.gateway import BaseGateway

from services.accounting.statement import Statement
from services.bus import Bus
from services.events import EVENT_CONNECTION, ConnectionChanged
from services.records.journal import Journal
from services.records.reconcile import Reconciliation, reconcile
from services.trading.control import TradingControl
from services.venues.accounts import AccountError, AccountSpec, gateway_class, gateway_setting

CONNECT_TIMEOUT_S = 10.0


def connect(
    spec: AccountSpec,
    bus: Bus,
    secret: Callable[[str], str | None],
    timeout: float = CONNECT_TIMEOUT_S,
) -> BaseGateway:
    """The account's gateway, connected and logged in within ``timeout`` seconds, or an
    :class:`AccountError` with the last thing the gateway said. Nothing is sent before."""
    cls = gateway_class(spec)
    setting = gateway_setting(spec, cls, secret)
    states: list[ConnectionChanged] = []
    up = threading.Event()

    def on_connection(event: Event) -> None:
        change: ConnectionChanged = event.data
        if change.gateway == spec.id:
            states.append(change)
            if change.state == "CONNECTED":
                up.set()

    bus.register(EVENT_CONNECTION, on_connection)
    gateway = cls(bus, spec.id)
    try:
        gateway.connect(setting)
        if not up.wait(timeout):
            last = states[-1] if states else None  # what it said before we gave up on it
            said = f"{last.state}: {last.message}" if last and last.message else "no answer"
            gateway.close()
            raise AccountError(
                f"account {spec.id}: not connected to the broker within {timeout:g} s ({said}); "
                "nothing was sent"
            )
    finally:
        bus.unregister(EVENT_CONNECTION, on_connection)
    return gateway


def statement_of(gateway: BaseGateway) -> Statement:
    """The broker's statement, from a gateway that can give one."""
    ask: Any = getattr(gateway, "statement", None)
    if ask is None:
        raise AccountError(
            f"{type(gateway).__name__} cannot give the broker's statement (cash, positions, "
            "orders, trades) yet, so it cannot be reconciled"
        )
    result: Statement = ask()
    return result


def reconcile_account(journal: Journal, statement: Statement, bus: Bus) -> Reconciliation:
    """Reconcile ``journal`` with ``statement``; an unexplained difference HALTs the
    account (persisted in its journal, so a restart comes back halted)."""
    if not journal.entries(kind="opening"):
        if journal.entries(kind="fill"):
            raise AccountError(
                f"{journal.path} holds fills but no opening balance: it is not a broker "
                "account's journal (each account keeps its own under accounts/<id>/)"
            )
        # Today's trades are in the balance already: recorded with it, never adopted again.
        journal.record(
            "opening",
            "broker",
            {
                "cash": statement.cash,
                "positions": statement.positions,
                "trades": {t.vt_tradeid: t.fee for t in statement.trades},
            },
        )
    result = reconcile(journal, statement, statement.cash)
    if result.halt:
        n = len(result.differences)
        TradingControl(journal, bus).halt(
            f"reconciliation: {n} difference{'s' if n != 1 else ''} with the broker: "
            + "; ".join(result.differences)
        )
    return result
