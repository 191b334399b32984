"""A broker account at work: connect its gateway, reconcile, halt it on a difference.

What ``quantdesk reconcile`` runs, and what live mode runs at every connect. The
account's journal (``<data dir>/accounts/<id>/journal.sqlite3``) is its own; the
first reconciliation of an empty journal records the broker's cash and holdings
as the *opening* of the ledger (an account that held shares before quantdesk is
adopted as it is), every later one compares against it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vnpy.event import Event
from vnpy.trader.gateway import BaseGateway

from services.accounting.statement import Statement, StatementError
from services.bus import Bus
from services.events import (
    EVENT_ACCOUNT,
    EVENT_CONNECTION,
    EVENT_LOG,
    EVENT_RECONCILED,
    GATEWAY_ERROR,
    ConnectionChanged,
    Reconciled,
)
from services.records.journal import Journal, JournalError
from services.records.reconcile import Reconciliation, reconcile
from services.records.recovery import rebuild
from services.trading.control import TradingControl
from services.trading.gateway_link import EventStatement
from services.venues.accounts import (
    PAPER,
    AccountError,
    AccountSpec,
    BrokerUnavailable,
    gateway_class,
    gateway_setting,
)

log = logging.getLogger("quantdesk.accounts")

CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class LiveAccount:
    """The account live mode trades: its config and the gateway's full setting (secrets
    read from the keyring at start, held in memory only)."""

    spec: AccountSpec
    setting: dict[str, Any]

    @classmethod
    def load(cls, spec: AccountSpec, secret: Callable[[str], str | None]) -> LiveAccount:
        """Checked now: the gateway imports, its settings are known, its secrets exist."""
        return cls(spec, gateway_setting(spec, gateway_class(spec), secret))

    def gateway(self, bus: Bus) -> BaseGateway:
        """A new, unconnected gateway named after the account."""
        return gateway_class(self.spec)(bus, self.spec.id)


def connect(
    spec: AccountSpec,
    bus: Bus,
    secret: Callable[[str], str | None],
    timeout: float = CONNECT_TIMEOUT_S,
) -> BaseGateway:
    """The account's gateway, connected and logged in within ``timeout`` seconds, or an
    :class:`AccountError` with the last thing the gateway said. Nothing is sent before.

    Logged in means a CONNECTED :class:`ConnectionChanged` (quantdesk's gateways) or the
    broker's account data (any vnpy gateway: vnpy_ctp queries it once logged in)."""
    if spec.gateway == PAPER:
        raise AccountError(
            f"account {spec.id} is a paper account: its broker lives inside the running "
            "quantdesk (restored from the account's journal), so there is nothing outside "
            f"to reconcile with; see it with quantdesk --mode live --account {spec.id} state"
        )
    cls = gateway_class(spec)
    setting = gateway_setting(spec, cls, secret)
    said: list[str] = []
    up = threading.Event()

    def on_connection(event: Event) -> None:
        change: ConnectionChanged = event.data
        if change.gateway == spec.id:
            said.append(f"{change.state}: {change.message}" if change.message else "")
            if change.state == "CONNECTED":
                up.set()

    def on_account(event: Event) -> None:
        if getattr(event.data, "gateway_name", "") == spec.id:
            up.set()

    def on_log(event: Event) -> None:
        if getattr(event.data, "gateway_name", "") == spec.id:
            said.append(str(event.data.msg))

    handlers = ((EVENT_CONNECTION, on_connection), (EVENT_ACCOUNT, on_account), (EVENT_LOG, on_log))
    for kind, handler in handlers:
        bus.register(kind, handler)
    gateway = cls(bus, spec.id)
    statement_source(gateway, bus)  # a stock vnpy gateway's login pushes are gathered
    try:
        gateway.connect(setting)
        if not up.wait(timeout):
            last = next((s for s in reversed(said) if s), "")  # before we gave up on it
            if not last:  # CTP's API, say, retries an unreachable front without a word
                where = [f"{k} = {v}" for k, v in spec.settings.items() if "://" in str(v)]
                last = "no answer" + (f"; is it reachable? {', '.join(where)}" if where else "")
            retire(gateway, bus)
            raise AccountError(
                f"account {spec.id}: not connected to the broker within {timeout:g} s ({last}); "
                "nothing was sent"
            )
    finally:
        for kind, handler in handlers:
            bus.unregister(kind, handler)
    return gateway


def retire(gateway: BaseGateway, bus: Bus) -> None:
    """Close a gateway for good: its bus handlers first, and once the bus has finished
    any call into it, the gateway (vnpy_ctp crashed the process when its timer handler
    ran after close released the API)."""
    bus.unregister_owner(gateway)
    bus.settle()
    gateway.close()


def statement_source(gateway: BaseGateway, bus: Bus) -> Callable[[], Statement]:
    """How to get the broker's statement: the gateway's own query (quantdesk's), or what a
    stock vnpy gateway publishes, gathered from before it connects (gateway_link.py)."""
    own: Any = getattr(gateway, "statement", None)
    if own is None:
        gathered = EventStatement(bus, gateway)
        own = gathered.statement
        gateway.statement = own  # type: ignore[attr-defined]  # asked again: the same source
    return own  # type: ignore[no-any-return]


def statement_of(gateway: BaseGateway) -> Statement:
    """The broker's statement (after :func:`statement_source` was set up for it)."""
    ask: Any = getattr(gateway, "statement", None)
    if ask is None:
        raise AccountError(
            f"{type(gateway).__name__}: no statement source was set up before it connected"
        )
    result: Statement = ask()
    return result


def reconcile_account(
    journal: Journal, statement: Statement, halt: Callable[[str], object]
) -> Reconciliation:
    """Reconcile ``journal`` with ``statement``; an unexplained difference HALTs the
    account (``halt``: its TradingControl's, which persists it in the journal)."""
    if not journal.entries(kind="opening"):
        # Today's trades the gateway published at login may be journaled already; any
        # other fill means this journal is not this account's.
        today = {t.vt_tradeid for t in statement.trades}
        foreign = [
            e for e in journal.entries(kind="fill") if e["payload"].get("vt_tradeid") not in today
        ]
        if foreign:
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
                "costs": statement.costs,
                "trades": {t.vt_tradeid: t.fee or 0.0 for t in statement.trades},
            },
        )
    result = reconcile(journal, statement, statement.cash)
    if result.halt:
        n = len(result.differences)
        halt(
            f"reconciliation: {n} difference{'s' if n != 1 else ''} with the broker: "
            + "; ".join(result.differences)
        )
    return result


class AccountWatch:
    """Reconciles a live account at every connect and on request, off the bus thread.

    Orders are refused from the moment the broker connects until its statement has
    been reconciled (``orders.blocked``); the ledger is then rebuilt from the journal,
    which now holds whatever the broker knew that we did not. A broker not connected
    within ``connect_timeout_s`` of the start (a hung connect) HALTs the account.
    """

    def __init__(
        self,
        account: str,
        gateway: BaseGateway,
        journal: Journal,
        bus: Bus,
        portfolio: Any,
        control: TradingControl,
        orders: Any,
    ) -> None:
        self.account, self.gateway, self.journal, self.bus = account, gateway, journal, bus
        self.portfolio, self.control, self.orders = portfolio, control, orders
        self._busy = threading.Lock()
        self.last: Reconciled | None = None
        self._connected = threading.Event()
        self._said = ""  # the gateway's last word on its connection

    def watch_connect(self, timeout_s: float | None = None) -> None:
        """From the start: HALT the account unless the broker connects within ``timeout_s``
        (CONNECT_TIMEOUT_S; the account's alone: nothing else is halted)."""
        timeout_s = CONNECT_TIMEOUT_S if timeout_s is None else timeout_s

        def wait() -> None:
            if not self._connected.wait(timeout_s):
                said = f" ({self._said})" if self._said else ""
                self.control.halt(
                    f"account {self.account}: not connected to the broker within "
                    f"{timeout_s:g} s{said}"
                )

        threading.Thread(target=wait, name="connect-watch", daemon=True).start()

    def stop(self) -> None:
        """The session ends: stop watching for the connection."""
        self._connected.set()

    def on_connection(self, event: Event) -> None:
        change: ConnectionChanged = event.data
        if change.gateway != self.account:
            return
        self._said = change.message or self._said
        if change.state == "CONNECTED":
            self._connected.set()
            self.orders.blocked = "reconciling with the broker after connecting"
            self.reconcile("connected")
        elif change.message.startswith(GATEWAY_ERROR):  # this account's gateway failed
            self.control.halt(f"account {self.account}: {change.message}")

    def reconcile(self, why: str = "on request") -> bool:
        """Start a reconciliation now; False when one is already running."""
        if not self._busy.acquire(blocking=False):
            return False
        threading.Thread(target=self._run, args=(why,), name="reconcile", daemon=True).start()
        return True

    def _run(self, why: str) -> None:
        try:
            try:
                result = reconcile_account(
                    self.journal, statement_of(self.gateway), self.control.halt
                )
            except StatementError as exc:  # what the broker says cannot be booked or compared
                self.control.halt(f"account {self.account}: {exc}")
                self.last = Reconciled(self.account, why, error=str(exc))
                log.error("account %s: reconciliation failed, HALTED: %s", self.account, exc)
            except (AccountError, BrokerUnavailable, JournalError) as exc:
                self.last = Reconciled(self.account, why, error=str(exc))
                log.error("account %s: reconciliation failed: %s", self.account, exc)
            else:
                rebuilt = rebuild(self.journal, 0.0)
                self.portfolio.restore(rebuilt.book, rebuilt.trade_ids)
                # A fill journaled between the rebuild's read and the restore was booked
                # on the old ledger and is gone from it: book it again (the bus books any
                # later one; trade ids are booked once either way).
                for entry in self.journal.entries(kind="fill"):
                    fill = entry["payload"]
                    if fill.get("vt_tradeid") and fill["vt_tradeid"] not in rebuilt.trade_ids:
                        self.portfolio.book_fill(
                            fill["vt_tradeid"],
                            fill["vt_symbol"],
                            "buy" if fill["direction"] == "LONG" else "sell",
                            int(fill["volume"]),
                            float(fill["price"]),
                            float(fill.get("fee") or 0.0),
                        )
                self.orders.blocked = ""
                self.last = Reconciled(
                    self.account, why, tuple(result.lines()), tuple(result.differences)
                )
                level = logging.ERROR if result.halt else logging.INFO
                log.log(
                    level,
                    "account %s reconciled (%s): %s",
                    self.account,
                    why,
                    "; ".join(result.lines()) or "the journal agrees with the broker",
                )
            self.bus.publish(EVENT_RECONCILED, self.last)
        finally:
            self._busy.release()
