"""What quantdesk needs from any vnpy gateway, read off the events it already publishes.

quantdesk's own gateways publish their connection (:class:`ConnectionChanged`) and
answer a statement query. A stock vnpy gateway (vnpy_ctp, vnpy_xtp, ...) does
neither, but it does publish, once logged in, the account, the positions, and
today's orders and trades (CTP's and XTP's APIs push them at login). So:

- :class:`GatewayLink` says CONNECTING when the gateway is asked to connect and
  CONNECTED when its first account data arrives. A drop cannot be seen this way:
  vnpy has no event for it (the gateways only log it), which the README says.
- :class:`EventStatement` keeps the latest of each of those events and makes a
  :class:`Statement` of them: it asks the gateway for its account and positions,
  then waits until the gateway has been quiet for ``quiet_s``. What the gateway has
  not published yet is missing from it, so an incomplete statement shows up as a
  difference (and a HALT), never as agreement.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

from vnpy.event import Event
from vnpy.trader.constant import Direction
from vnpy.trader.gateway import BaseGateway

from services.accounting.statement import BrokerOrder, BrokerTrade, Statement, StatementError
from services.bus import Bus
from services.events import (
    EVENT_ACCOUNT,
    EVENT_CONNECTION,
    EVENT_ORDER,
    EVENT_POSITION,
    EVENT_TRADE,
    ConnectionChanged,
)
from services.venues.accounts import BrokerUnavailable

QUIET_S = 2.0  # no new account, position, order or trade event for this long: complete


class GatewayLink:
    """ConnectionChanged for a gateway that does not publish its own."""

    def __init__(self, bus: Bus, gateway: BaseGateway) -> None:
        self.bus, self.name = bus, gateway.gateway_name
        self.connected = False
        bus.register(EVENT_ACCOUNT, self.on_account)

    def connecting(self) -> None:
        self._say("CONNECTING", "waiting for the broker's account data")

    def on_account(self, event: Event) -> None:
        if getattr(event.data, "gateway_name", "") == self.name and not self.connected:
            self.connected = True
            self._say("CONNECTED", "")

    def _say(self, state: Any, message: str) -> None:
        self.bus.publish(
            EVENT_CONNECTION, ConnectionChanged(self.name, state, datetime.now(), message)
        )


class EventStatement:
    """The broker's statement, from the events one gateway published."""

    def __init__(self, bus: Bus, gateway: BaseGateway, quiet_s: float = QUIET_S) -> None:
        self.gateway, self.name, self.quiet_s = gateway, gateway.gateway_name, quiet_s
        self._lock = threading.Lock()
        self._cash: float | None = None
        self._positions: dict[tuple[str, Direction], Any] = {}
        self._orders: dict[str, Any] = {}
        self._trades: dict[str, Any] = {}
        self._last = time.monotonic()
        for kind in (EVENT_ACCOUNT, EVENT_POSITION, EVENT_ORDER, EVENT_TRADE):
            bus.register(kind, self._on_event)

    def _on_event(self, event: Event) -> None:
        data = event.data
        if getattr(data, "gateway_name", "") != self.name:
            return
        with self._lock:
            self._last = time.monotonic()
            if event.type.startswith(EVENT_ACCOUNT):
                self._cash = float(data.balance)  # all cash, what orders hold included
            elif event.type.startswith(EVENT_POSITION):
                self._positions[(data.vt_symbol, data.direction)] = data
            elif event.type.startswith(EVENT_ORDER):
                self._orders[data.vt_orderid] = data
            elif event.type.startswith(EVENT_TRADE):
                self._trades[data.vt_tradeid] = data

    def statement(self, timeout: float = 15.0) -> Statement:
        """Ask for the account and positions, wait for quiet, and assemble."""
        self.gateway.query_account()
        self.gateway.query_position()
        asked = time.monotonic()
        while True:
            with self._lock:
                quiet = time.monotonic() - max(self._last, asked) >= self.quiet_s
                ready = self._cash is not None
            if quiet and ready:
                break
            if time.monotonic() - asked > timeout:
                raise BrokerUnavailable(
                    f"{self.name}: no account data from the gateway within {timeout:g} s"
                )
            time.sleep(0.05)
        with self._lock:
            try:
                return self._assemble()
            except (StatementError, TypeError, ValueError) as exc:  # NaN, a volume not a number
                raise StatementError(f"{self.name}: the gateway's account data: {exc}") from None

    def _assemble(self) -> Statement:
        positions: dict[str, int] = {}
        costs: dict[str, float] = {}
        for (symbol, direction), p in self._positions.items():
            sign = -1 if direction == Direction.SHORT else 1
            positions[symbol] = positions.get(symbol, 0) + sign * int(p.volume)
            if p.price:
                costs[symbol] = float(p.price)
        orders = tuple(
            BrokerOrder(
                o.vt_orderid,
                o.reference or "",
                o.vt_symbol,
                "buy" if o.direction == Direction.LONG else "sell",
                int(o.volume),
                float(o.price),
                int(o.traded),
                o.status.name,
                str((o.extra or {}).get("reason", "")),
            )
            for o in self._orders.values()
        )
        trades = tuple(
            BrokerTrade(
                t.vt_tradeid,
                t.vt_orderid,
                str((t.extra or {}).get("reference", "")),
                t.vt_symbol,
                "buy" if t.direction == Direction.LONG else "sell",
                int(t.volume),
                float(t.price),
                _fee((t.extra or {}).get("fee")),
            )
            for t in self._trades.values()
        )
        held = {s: q for s, q in positions.items() if q}
        return Statement(self._cash or 0.0, held, orders, trades, costs)


def _fee(value: Any) -> float | None:
    return None if value is None else float(value)
