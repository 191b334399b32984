"""The scripted broker's vnpy gateway: a broker in another process, reached as vnpy_ctp
reaches a front.

A :class:`BaseGateway` in the shape of the real ones. ``connect`` returns at once;
a thread connects, logs in and keeps the connection, reconnecting with backoff
(0.5 s doubling to 10 s) and publishing each state as :class:`ConnectionChanged`:
CONNECTING, CONNECTED, RECONNECTING since when, DOWN with why. ``send_order``
assigns the order's id itself (session and sequence, as CTP's OrderRef) and
returns it before the broker answers; the order's ``reference`` (the intent id)
travels with it, so the broker's own order list says which intent each order
was -- what a restart after a crash asks. While not connected nothing is sent:
the order comes back REJECTED saying so. On every login the account, positions,
orders and today's trades are queried and published, as CTP's gateway does: a
trade seen before arrives again, and the ledger books each trade id once.

The broker: services/venues/scripted_broker.py.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import socket
import threading
from datetime import datetime
from typing import Any

from vnpy.event import EventEngine
from vnpy.trader.constant import Direction, Exchange, OrderType, Status
from vnpy.trader.gateway import BaseGateway
from vnpy.trader.object import (
    AccountData,
    CancelRequest,
    OrderData,
    OrderRequest,
    PositionData,
    SubscribeRequest,
    TradeData,
)

from services.accounting.statement import BrokerOrder, BrokerTrade, Statement, StatementError
from services.events import EVENT_CONNECTION, GATEWAY_ERROR, ConnectionChanged
from services.venues.accounts import BrokerUnavailable

log = logging.getLogger("quantdesk.gateway")

FIRST_RETRY_S, MAX_RETRY_S = 0.5, 10.0


class ScriptedGateway(BaseGateway):
    """A cash account at the scripted broker, over its Unix socket."""

    default_name = "SCRIPTED"
    publishes_connection = True  # ConnectionChanged events (stock vnpy gateways have none)
    default_setting: dict[str, str | int | float | bool] = {"socket": "", "timeout_s": 5.0}
    exchanges = [Exchange.SSE, Exchange.SZSE]

    def __init__(self, event_engine: EventEngine, gateway_name: str = "SCRIPTED") -> None:
        super().__init__(event_engine, gateway_name)
        self.state: ConnectionChanged = ConnectionChanged(gateway_name, "DOWN", datetime.now())
        self._path = ""
        self._timeout = 5.0
        self._sock: socket.socket | None = None
        self._write = threading.Lock()
        self._ids = itertools.count(1)
        self._sequence = itertools.count(1)
        self._session = 0
        self._login_id = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._waiting: dict[int, list[dict[str, Any]]] = {}  # request id -> its answer, once in
        self._answered = threading.Condition()

    # -- vnpy's gateway interface ----------------------------------------------------
    def connect(self, setting: dict[str, Any]) -> None:
        self._path = str(setting.get("socket") or "")
        self._timeout = float(setting.get("timeout_s") or 5.0)
        if not self._path:
            self._set("DOWN", "no broker socket configured (setting 'socket')")
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"{self.gateway_name}-conn")
        self._thread.daemon = True
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._set("DOWN", "closed")

    def subscribe(self, req: SubscribeRequest) -> None:
        """Quotes do not come from this broker (the feed gateway serves them)."""

    def send_order(self, req: OrderRequest) -> str:
        orderid = f"{self._session}_{next(self._sequence)}"
        order = req.create_order_data(orderid, self.gateway_name)
        if self.state.state != "CONNECTED":
            order.status = Status.REJECTED
            order.extra = {"reason": f"not sent: the broker is {self.state.state.lower()}"}
            self.on_order(order)
            return order.vt_orderid
        self.on_order(order)  # SUBMITTING until the broker answers
        sent = self._send(
            {
                "op": "send",
                "orderid": orderid,
                "reference": req.reference,
                "symbol": req.symbol,
                "exchange": req.exchange.value,
                "direction": req.direction.name,
                "type": req.type.name,
                "price": req.price,
                "volume": int(req.volume),
            }
        )
        if not sent:  # the connection broke on the way: the broker may or may not have it
            log.warning("order %s: the connection broke while sending", order.vt_orderid)
        return order.vt_orderid

    def cancel_order(self, req: CancelRequest) -> None:
        self._send({"op": "cancel", "orderid": req.orderid})

    def query_account(self) -> None:
        self._send({"op": "query"})

    def query_position(self) -> None:
        self._send({"op": "query"})

    def statement(self, timeout: float = 5.0) -> Statement:
        """The broker's account now (cash, positions, orders, today's trades), for a
        reconciliation; raises :class:`BrokerUnavailable` when it cannot be had."""
        if self.state.state != "CONNECTED":
            raise BrokerUnavailable(f"{self.gateway_name} is {self.state.state.lower()}")
        request = next(self._ids)
        with self._answered:
            self._waiting[request] = []
        try:
            if not self._send({"op": "query"}, request):
                raise BrokerUnavailable(f"{self.gateway_name}: the connection broke")
            with self._answered:
                if not self._answered.wait_for(lambda: self._waiting[request], timeout):
                    raise BrokerUnavailable(
                        f"{self.gateway_name}: no statement from the broker within {timeout:g} s"
                    )
                answer = self._waiting[request][0]
        finally:
            with self._answered:
                self._waiting.pop(request, None)
        return self._statement(answer)

    def _statement(self, msg: dict[str, Any]) -> Statement:
        """The broker's answer as a Statement; :class:`StatementError` naming the broker
        when a section or a field is missing or a number is not one."""
        try:
            return self._parse(msg)
        except StatementError as exc:
            raise StatementError(f"{self.gateway_name}: the broker's statement: {exc}") from None
        except KeyError as exc:
            raise StatementError(
                f"{self.gateway_name}: the broker's statement has no {exc} (a section or field "
                "missing): it cannot be reconciled"
            ) from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise StatementError(
                f"{self.gateway_name}: the broker's statement cannot be read ({exc})"
            ) from None

    def _parse(self, msg: dict[str, Any]) -> Statement:
        name = self.gateway_name
        orders = tuple(
            BrokerOrder(
                f"{name}.{o['orderid']}",
                o.get("reference", ""),
                f"{o['symbol']}.{o['exchange']}",
                "buy" if o["direction"] == "LONG" else "sell",
                int(o["volume"]),
                float(o["price"]),
                int(o["traded"]),
                str(o["status"]),
                str(o.get("message", "")),
            )
            for o in msg["orders"]
        )
        trades = tuple(
            BrokerTrade(
                f"{name}.{t['tradeid']}",
                f"{name}.{t['orderid']}",
                t.get("reference", ""),
                f"{t['symbol']}.{t['exchange']}",
                "buy" if t["direction"] == "LONG" else "sell",
                int(t["volume"]),
                float(t["price"]),
                float(t["fee"]),
            )
            for t in msg["trades"]
        )
        positions = {str(k): int(v) for k, v in msg["positions"].items()}
        costs = {str(k): float(v) for k, v in msg.get("costs", {}).items()}
        return Statement(float(msg["cash"]), positions, orders, trades, costs)

    # -- the connection ---------------------------------------------------------------
    def _run(self) -> None:
        delay, first = FIRST_RETRY_S, True
        while not self._stop.is_set():
            self._set("CONNECTING" if first else "RECONNECTING", self.state.message)
            try:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self._timeout)
                sock.connect(self._path)
                sock.settimeout(None)
            except OSError as exc:
                first = False
                self._set("RECONNECTING", f"cannot reach the broker: {exc}", delay)
                self._stop.wait(delay)
                delay = min(delay * 2, MAX_RETRY_S)
                continue
            self._sock = sock
            self._login_id = next(self._ids)
            self._send({"op": "login"}, self._login_id)
            why = self._read(sock)
            self._sock = None
            with contextlib.suppress(OSError):
                sock.close()
            if self._stop.is_set():
                break  # closed on purpose: no reconnecting
            if self.state.state == "CONNECTED":
                delay = FIRST_RETRY_S  # it was up: retry soon
            first = False
            self._set("RECONNECTING", why, delay)
            self._stop.wait(delay)
        self._set("DOWN", "closed")

    def _read(self, sock: socket.socket) -> str:
        """Handle the broker's lines until the connection ends; returns why it ended."""
        buffer = b""
        while not self._stop.is_set():
            try:
                chunk = sock.recv(65536)
            except OSError as exc:
                return f"connection lost: {exc}"
            if not chunk:
                return "the broker closed the connection"
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                try:
                    self._handle(json.loads(line))
                except Exception as exc:  # what it said is lost: start again from its report
                    log.exception("%s: cannot handle %r", self.gateway_name, line[:200])
                    return f"{GATEWAY_ERROR}: cannot handle a broker message ({exc!r})"
        return "closed"

    def _handle(self, msg: dict[str, Any]) -> None:
        push = msg.get("push")
        if push == "order":
            self.on_order(self._order(msg["data"]))
        elif push == "trade":
            self.on_trade(self._trade(msg["data"]))
        elif push == "cancel_rejected":
            data = msg["data"]
            self.write_log(f"cancel of {data['orderid']} refused by the broker: {data['message']}")
        elif msg.get("id") in self._waiting:
            with self._answered:
                self._waiting[msg["id"]].append(msg)
                self._answered.notify_all()
        elif msg.get("id") == self._login_id:
            if msg.get("ok"):
                self._session = int(msg.get("session", 0))
                self._sequence = itertools.count(1)
                self._set("CONNECTED", "")
                self._send({"op": "query"})
            else:
                self._set("DOWN", f"login refused: {msg.get('error')}")
        elif "cash" in msg:  # a query's answer
            self._publish_account(msg)
        elif not msg.get("ok", True):
            self.write_log(f"the broker refused a request: {msg.get('error')}")

    def _publish_account(self, msg: dict[str, Any]) -> None:
        self.on_account(
            AccountData(gateway_name=self.gateway_name, accountid="SCRIPTED", balance=msg["cash"])
        )
        for key, volume in msg["positions"].items():
            code, exchange = key.rsplit(".", 1)
            self.on_position(
                PositionData(
                    gateway_name=self.gateway_name,
                    symbol=code,
                    exchange=Exchange(exchange),
                    direction=Direction.NET,
                    volume=volume,
                )
            )
        for order in msg["orders"]:
            self.on_order(self._order(order))
        for trade in msg["trades"]:
            self.on_trade(self._trade(trade))

    def _order(self, data: dict[str, Any]) -> OrderData:
        order = OrderData(
            gateway_name=self.gateway_name,
            symbol=data["symbol"],
            exchange=Exchange(data["exchange"]),
            orderid=data["orderid"],
            type=OrderType[data["type"]],
            direction=Direction[data["direction"]],
            price=float(data["price"]),
            volume=float(data["volume"]),
            traded=float(data["traded"]),
            status=Status[data["status"]],
            datetime=datetime.now(),
            reference=data.get("reference", ""),
        )
        order.extra = {"reason": data["message"]} if data.get("message") else None
        if data.get("external"):
            order.extra = {**(order.extra or {}), "external": True}
        return order

    def _trade(self, data: dict[str, Any]) -> TradeData:
        trade = TradeData(
            gateway_name=self.gateway_name,
            symbol=data["symbol"],
            exchange=Exchange(data["exchange"]),
            orderid=data["orderid"],
            tradeid=data["tradeid"],
            direction=Direction[data["direction"]],
            price=float(data["price"]),
            volume=float(data["volume"]),
            datetime=datetime.now(),
        )
        trade.extra = {"fee": float(data["fee"]), "reference": data.get("reference", "")}
        return trade

    def _send(self, msg: dict[str, Any], request_id: int | None = None) -> bool:
        sock = self._sock
        if sock is None:
            return False
        line = json.dumps({"id": request_id or next(self._ids), **msg}) + "\n"
        try:
            with self._write:
                sock.sendall(line.encode())
        except OSError:
            return False
        return True

    def _set(self, state: Any, message: str, retry_in_s: float = 0.0) -> None:
        if state == self.state.state and message == self.state.message:
            return
        since = self.state.since if state == self.state.state else datetime.now()
        self.state = ConnectionChanged(self.gateway_name, state, since, message, retry_in_s)
        self.on_event(EVENT_CONNECTION, self.state)
        level = logging.INFO if state in ("CONNECTING", "CONNECTED") else logging.WARNING
        log.log(level, "%s %s%s", self.gateway_name, state, f": {message}" if message else "")
