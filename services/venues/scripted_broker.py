"""A scripted broker in its own process: the venue the live order path is tested against.

``python -m services.venues.scripted_broker SOCKET [--cash N]`` serves one cash
account over a Unix socket, one JSON object per line. It is a broker, not a
matcher: orders rest until a harness says what happens to them, so every case
a real broker produces can be scripted -- partial fills, rejects with the
broker's message, refused cancels, a trade reported before its order's
acknowledgement or twice, a dropped connection, an order from another
terminal, a position changed outside, fees of its own. Being its own process,
it outlives a SIGKILL of quantdesk: after a crash the account is the broker's,
not anyone's memory of it.

Gateway requests (each with an ``id``, answered with the same ``id``):
``login``, ``send`` (the client's order id and reference), ``cancel``,
``query`` (account, positions, orders, today's trades). Pushed to every logged
in connection: ``order``, ``trade``, ``cancel_rejected``.

Harness requests: ``fill`` (an order by id or reference, a volume and price,
optionally a ``fee`` and ``duplicate``), ``reject_next`` (with the broker's
message), ``refuse_cancels``, ``hold_ack`` (the next order is acknowledged only
after its first trade), ``drop`` (close every gateway connection),
``external`` (an order placed from another terminal, optionally filled),
``set_position``, ``garble`` (a report the gateway cannot read), ``state``
(everything, for the test to compare).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ACTIVE = ("SUBMITTING", "NOTTRADED", "PARTTRADED")
MIN_COMMISSION, COMMISSION, STAMP = 5.0, 0.00025, 0.0005  # its own A-share fee schedule


@dataclass
class Order:
    orderid: str
    reference: str
    symbol: str
    exchange: str
    direction: str  # LONG (buy) or SHORT (sell), vnpy's names
    type: str
    price: float
    volume: int
    traded: int = 0
    status: str = "NOTTRADED"
    message: str = ""
    external: bool = False


@dataclass
class Trade:
    tradeid: str
    orderid: str
    reference: str
    symbol: str
    exchange: str
    direction: str
    price: float
    volume: int
    fee: float


@dataclass
class Script:
    """One-shot and standing instructions from the harness."""

    reject_next: str = ""
    refuse_cancels: str = ""
    hold_ack: bool = False
    held: set[str] = field(default_factory=set)  # orders not acknowledged yet
    spoil: str = ""  # statements spoiled: "nan_cash", or a section left out ("orders")


class Broker:
    """The account and its orders; every change is pushed to the logged-in gateways."""

    def __init__(self, cash: float) -> None:
        self.cash = cash
        self.positions: dict[str, int] = {}  # "600519.SSE" -> shares
        self.costs: dict[str, float] = {}  # average cost per share of what is held
        self.orders: dict[str, Order] = {}
        self.trades: list[Trade] = []
        self.script = Script()
        self.clients: set[asyncio.StreamWriter] = set()
        self._trade_ids = itertools.count(1)
        self._external_ids = itertools.count(1)
        self._sessions = itertools.count(1)

    # -- gateway requests ---------------------------------------------------------------
    async def handle(self, msg: dict[str, Any], writer: asyncio.StreamWriter) -> dict[str, Any]:
        op = msg.get("op")
        if op == "login":
            self.clients.add(writer)
            return {"ok": True, "session": next(self._sessions)}
        if op == "query":
            return {"ok": True, **self._spoiled(self.state())}
        if op == "send":
            return await self._send(msg)
        if op == "cancel":
            return await self._cancel(str(msg["orderid"]))
        harness = getattr(self, f"do_{op}", None)
        if harness is None:
            return {"ok": False, "error": f"unknown op {op!r}"}
        result = await harness(msg)
        return {"ok": True, **(result or {})}

    async def _send(self, msg: dict[str, Any]) -> dict[str, Any]:
        orderid = str(msg["orderid"])
        if orderid in self.orders:
            return {"ok": False, "error": f"duplicate order id {orderid}"}
        order = Order(
            orderid,
            str(msg.get("reference", "")),
            str(msg["symbol"]),
            str(msg["exchange"]),
            str(msg["direction"]),
            str(msg.get("type", "LIMIT")),
            float(msg.get("price", 0.0)),
            int(msg["volume"]),
        )
        self.orders[orderid] = order
        if self.script.reject_next:
            order.status, order.message = "REJECTED", self.script.reject_next
            self.script.reject_next = ""
        elif self.script.hold_ack:
            self.script.hold_ack = False
            self.script.held.add(orderid)
            return {"ok": True}
        await self._push("order", asdict(order))
        return {"ok": True}

    async def _cancel(self, orderid: str) -> dict[str, Any]:
        order = self.orders.get(orderid)
        if order is None or order.status not in ACTIVE:
            why = "no such order" if order is None else f"the order is {order.status}"
            await self._push("cancel_rejected", {"orderid": orderid, "message": why})
            return {"ok": True}
        if self.script.refuse_cancels:
            await self._push(
                "cancel_rejected", {"orderid": orderid, "message": self.script.refuse_cancels}
            )
            return {"ok": True}
        order.status = "CANCELLED"
        await self._push("order", asdict(order))
        return {"ok": True}

    # -- harness requests ---------------------------------------------------------------
    async def do_fill(self, msg: dict[str, Any]) -> dict[str, Any]:
        order = self._find(msg)
        volume, price = int(msg["volume"]), float(msg.get("price") or order.price)
        if order.traded + volume > order.volume:
            raise ValueError(f"fill of {volume} exceeds what is left of {order.orderid}")
        value = volume * price
        fee = msg.get("fee")
        if fee is None:
            fee = max(MIN_COMMISSION, value * COMMISSION)
            fee += value * STAMP if order.direction == "SHORT" else 0.0
        trade = Trade(
            f"T{next(self._trade_ids)}",
            order.orderid,
            order.reference,
            order.symbol,
            order.exchange,
            order.direction,
            price,
            volume,
            round(float(fee), 2),
        )
        self.trades.append(trade)
        order.traded += volume
        if order.status != "CANCELLED":  # a late trade after a cancel keeps it cancelled
            order.status = "ALLTRADED" if order.traded == order.volume else "PARTTRADED"
        key = f"{order.symbol}.{order.exchange}"
        sign = 1 if order.direction == "LONG" else -1
        held = self.positions.get(key, 0)
        if sign > 0:  # a buy moves the average cost; a sell leaves it
            self.costs[key] = (self.costs.get(key, 0.0) * held + value) / (held + volume)
        self.positions[key] = held + sign * volume
        self.cash -= sign * value + trade.fee
        held = order.orderid in self.script.held
        self.script.held.discard(order.orderid)
        if not held:
            await self._push("order", asdict(order))
        await self._push("trade", asdict(trade))
        if msg.get("duplicate"):
            await self._push("trade", asdict(trade))
        if held:  # the acknowledgement arrives after the trade
            await self._push("order", asdict(order))
        return {"tradeid": trade.tradeid}

    async def do_reject_next(self, msg: dict[str, Any]) -> None:
        self.script.reject_next = str(msg.get("message") or "rejected by the broker")

    async def do_refuse_cancels(self, msg: dict[str, Any]) -> None:
        self.script.refuse_cancels = str(msg.get("message") or "")

    async def do_hold_ack(self, msg: dict[str, Any]) -> None:
        self.script.hold_ack = bool(msg.get("on", True))

    async def do_drop(self, msg: dict[str, Any]) -> dict[str, Any]:
        dropped = len(self.clients)
        for writer in list(self.clients):
            writer.close()
        self.clients.clear()
        return {"dropped": dropped}

    async def do_external(self, msg: dict[str, Any]) -> dict[str, Any]:
        order = Order(
            f"EXT{next(self._external_ids)}",
            "",
            str(msg["symbol"]),
            str(msg["exchange"]),
            str(msg.get("direction", "LONG")),
            "LIMIT",
            float(msg["price"]),
            int(msg["volume"]),
            external=True,
        )
        self.orders[order.orderid] = order
        await self._push("order", asdict(order))
        if msg.get("fill"):
            await self.do_fill({"orderid": order.orderid, "volume": order.volume})
        return {"orderid": order.orderid}

    async def do_set_position(self, msg: dict[str, Any]) -> None:
        self.positions[f"{msg['symbol']}.{msg['exchange']}"] = int(msg["volume"])

    async def do_garble(self, msg: dict[str, Any]) -> None:
        """Push an order report the gateway cannot read (a broker's malformed message)."""
        await self._push("order", {"orderid": "??"})

    async def do_spoil(self, msg: dict[str, Any]) -> None:
        """From now on (until ``how=""``) statements are broken as a real broker's can be:
        NaN cash, or a section left out."""
        self.script.spoil = str(msg.get("how") or "")

    async def do_state(self, msg: dict[str, Any]) -> dict[str, Any]:
        return self.state()

    # -- helpers ------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "cash": round(self.cash, 2),
            "positions": {k: v for k, v in self.positions.items() if v},
            "costs": {k: round(self.costs.get(k, 0.0), 4) for k, v in self.positions.items() if v},
            "orders": [asdict(o) for o in self.orders.values()],
            "trades": [asdict(t) for t in self.trades],
        }

    def _spoiled(self, state: dict[str, Any]) -> dict[str, Any]:
        how = self.script.spoil
        if how == "nan_cash":
            state["cash"] = float("nan")  # JSON lines carry it as NaN, as Python writes it
        elif how:
            state.pop(how, None)
        return state

    def _find(self, msg: dict[str, Any]) -> Order:
        if "orderid" in msg:
            return self.orders[str(msg["orderid"])]
        found = [o for o in self.orders.values() if o.reference == msg.get("reference")]
        if not found:
            raise KeyError(f"no order with reference {msg.get('reference')!r}")
        return found[-1]

    async def _push(self, kind: str, data: dict[str, Any]) -> None:
        line = (json.dumps({"push": kind, "data": data}) + "\n").encode()
        for writer in list(self.clients):
            try:
                writer.write(line)
                await writer.drain()
            except (ConnectionError, RuntimeError):
                self.clients.discard(writer)


async def serve(path: Path, cash: float) -> None:
    broker = Broker(cash)

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                msg = json.loads(line)
                try:
                    reply = await broker.handle(msg, writer)
                except (KeyError, ValueError, TypeError) as exc:
                    reply = {"ok": False, "error": str(exc)}
                writer.write((json.dumps({"id": msg.get("id"), **reply}) + "\n").encode())
                await writer.drain()
        except (ConnectionError, json.JSONDecodeError):
            pass
        finally:
            broker.clients.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    path.unlink(missing_ok=True)
    server = await asyncio.start_unix_server(client, path=str(path))
    print(f"scripted broker listening on {path}", flush=True)  # the harness waits for it
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("socket", type=Path, help="the Unix socket to listen on")
    parser.add_argument("--cash", type=float, default=1_000_000.0, help="starting cash, CNY")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.socket, args.cash))


if __name__ == "__main__":
    main()
