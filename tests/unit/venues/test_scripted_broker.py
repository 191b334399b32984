"""The scripted broker (its own process) through its vnpy gateway: every case a real
broker produces, as the rest of quantdesk receives it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from vnpy.trader.constant import Direction, Exchange, OrderType, Status
from vnpy.trader.object import CancelRequest, OrderRequest

from services.accounting.costs import CostConfig
from services.accounting.portfolio import Portfolio
from services.bus import Bus
from services.events import (
    EVENT_CONNECTION,
    EVENT_LOG,
    EVENT_ORDER,
    EVENT_POSITION,
    EVENT_TRADE,
)
from services.instruments import DEFAULT_UNIVERSE, Universe
from services.market import MarketCache
from services.venues.scripted import ScriptedGateway
from tests.unit.venues.conftest import Broker, Seen


def _buy(volume: int = 500, price: float = 10.0, reference: str = "intent-1") -> OrderRequest:
    return OrderRequest(
        symbol="600000",
        exchange=Exchange.SSE,
        direction=Direction.LONG,
        type=OrderType.LIMIT,
        volume=volume,
        price=price,
        reference=reference,
    )


def _orders(seen: Seen, vt_orderid: str) -> list[Status]:
    return [o.status for o in seen.of(EVENT_ORDER) if o.vt_orderid == vt_orderid]


def test_accept_partial_fill_and_fill_carry_our_reference_and_the_broker_fee(
    gateway: ScriptedGateway, broker: Broker, seen: Seen
) -> None:
    vt_orderid = gateway.send_order(_buy())
    seen.wait(lambda s: Status.NOTTRADED in _orders(s, vt_orderid))
    acked = next(o for o in seen.of(EVENT_ORDER) if o.status == Status.NOTTRADED)
    assert acked.reference == "intent-1"
    orderid = vt_orderid.split(".", 1)[1]
    broker.call("fill", orderid=orderid, volume=300, fee=7.5)
    broker.call("fill", orderid=orderid, volume=200)
    seen.wait(lambda s: Status.ALLTRADED in _orders(s, vt_orderid) and len(s.of(EVENT_TRADE)) == 2)
    assert _orders(seen, vt_orderid) == [
        Status.SUBMITTING,
        Status.NOTTRADED,
        Status.PARTTRADED,
        Status.ALLTRADED,
    ]
    trades = seen.of(EVENT_TRADE)
    assert [t.volume for t in trades] == [300, 200]
    assert trades[0].extra["fee"] == 7.5  # the broker's, not our cost model's
    assert trades[1].extra["fee"] == 5.0  # its 5 CNY minimum commission
    state = broker.call("state")
    assert state["positions"] == {"600000.SSE": 500}
    assert state["cash"] == 1_000_000.0 - 5_000.0 - 12.5


def test_a_reject_carries_the_brokers_message(
    gateway: ScriptedGateway, broker: Broker, seen: Seen
) -> None:
    broker.call("reject_next", message="资金不足 (insufficient funds)")
    vt_orderid = gateway.send_order(_buy())
    seen.wait(lambda s: Status.REJECTED in _orders(s, vt_orderid))
    rejected = next(o for o in seen.of(EVENT_ORDER) if o.status == Status.REJECTED)
    assert rejected.extra["reason"] == "资金不足 (insufficient funds)"


def test_a_refused_cancel_is_reported_and_the_order_stays_working(
    gateway: ScriptedGateway, broker: Broker, seen: Seen
) -> None:
    vt_orderid = gateway.send_order(_buy())
    seen.wait(lambda s: Status.NOTTRADED in _orders(s, vt_orderid))
    broker.call("refuse_cancels", message="已过撤单时间 (too late to cancel)")
    gateway.cancel_order(CancelRequest(vt_orderid.split(".", 1)[1], "600000", Exchange.SSE))
    seen.wait(lambda s: any("too late to cancel" in log.msg for log in s.of(EVENT_LOG)))
    assert Status.CANCELLED not in _orders(seen, vt_orderid)
    broker.call("refuse_cancels", message="")
    gateway.cancel_order(CancelRequest(vt_orderid.split(".", 1)[1], "600000", Exchange.SSE))
    seen.wait(lambda s: Status.CANCELLED in _orders(s, vt_orderid))


def test_a_trade_before_the_ack_and_a_trade_reported_twice_are_booked_once(
    bus: Bus, gateway: ScriptedGateway, broker: Broker, seen: Seen
) -> None:
    portfolio = Portfolio(Universe(DEFAULT_UNIVERSE), CostConfig(), 1_000_000.0, MarketCache())
    bus.register(EVENT_TRADE, portfolio.on_trade)
    broker.call("hold_ack")
    vt_orderid = gateway.send_order(_buy(reference="intent-2"))
    broker.call("fill", reference="intent-2", volume=500, fee=6.0, duplicate=True)
    seen.wait(lambda s: Status.ALLTRADED in _orders(s, vt_orderid) and len(s.of(EVENT_TRADE)) == 2)
    kinds = [k for k, data in seen.events if k in (EVENT_ORDER, EVENT_TRADE)]
    assert kinds == [EVENT_ORDER, EVENT_TRADE, EVENT_TRADE, EVENT_ORDER]  # SUBMITTING first
    assert len({t.vt_tradeid for t in seen.of(EVENT_TRADE)}) == 1
    bus.wait_idle()
    assert portfolio.qty("600000.SSE") == 500
    assert portfolio.cash == 1_000_000.0 - 5_000.0 - 6.0


def test_a_dropped_connection_reconnects_and_nothing_is_sent_while_down(
    gateway: ScriptedGateway, broker: Broker, seen: Seen
) -> None:
    first = gateway.send_order(_buy())
    seen.wait(lambda s: Status.NOTTRADED in _orders(s, first))
    broker.call("fill", orderid=first.split(".", 1)[1], volume=500)
    assert broker.call("drop")["dropped"] == 1
    seen.wait(lambda s: any(c.state == "RECONNECTING" for c in s.of(EVENT_CONNECTION)))
    seen.wait(lambda s: [c.state for c in s.of(EVENT_CONNECTION)].count("CONNECTED") == 2)
    states = [c.state for c in seen.of(EVENT_CONNECTION)]
    assert states[:2] == ["CONNECTING", "CONNECTED"] and "RECONNECTING" in states[2:]
    # At the new login the broker's orders and today's trades are published again.
    seen.wait(lambda s: len(s.of(EVENT_TRADE)) == 2)
    assert len({t.vt_tradeid for t in seen.of(EVENT_TRADE)}) == 1
    # A new session's order ids do not collide with the old session's.
    second = gateway.send_order(_buy(reference="intent-4"))
    assert second != first
    seen.wait(lambda s: Status.NOTTRADED in _orders(s, second))


def test_sending_while_down_is_refused_without_reaching_the_broker(
    bus: Bus, broker: Broker, seen: Seen
) -> None:
    gateway = ScriptedGateway(bus)
    gateway.connect({"socket": str(broker.path) + ".absent"})
    seen.wait(lambda s: any(c.state == "RECONNECTING" for c in s.of(EVENT_CONNECTION)))
    vt_orderid = gateway.send_order(_buy())
    seen.wait(lambda s: Status.REJECTED in _orders(s, vt_orderid))
    rejected = [o for o in seen.of(EVENT_ORDER) if o.vt_orderid == vt_orderid][-1]
    assert "not sent: the broker is reconnecting" in rejected.extra["reason"]
    reconnecting = next(c for c in seen.of(EVENT_CONNECTION) if c.state == "RECONNECTING")
    assert "cannot reach the broker" in reconnecting.message and reconnecting.retry_in_s > 0
    assert broker.call("state")["orders"] == []
    gateway.close()


def test_an_external_order_and_an_outside_position_change_are_visible(
    gateway: ScriptedGateway, broker: Broker, seen: Seen
) -> None:
    ext = broker.call("external", symbol="600036", exchange="SSE", volume=200, price=35.0)
    seen.wait(lambda s: any(o.orderid == ext["orderid"] for o in s.of(EVENT_ORDER)))
    order = next(o for o in seen.of(EVENT_ORDER) if o.orderid == ext["orderid"])
    assert order.reference == "" and order.extra == {"external": True}
    broker.call("set_position", symbol="601318", exchange="SSE", volume=1000)
    gateway.query_position()
    seen.wait(lambda s: any(p.vt_symbol == "601318.SSE" for p in s.of(EVENT_POSITION)))
    position = next(p for p in seen.of(EVENT_POSITION) if p.vt_symbol == "601318.SSE")
    assert position.volume == 1000
    assert broker.call("state")["positions"] == {"601318.SSE": 1000}


def test_the_broker_outlives_a_sigkill_of_its_client(tmp_path: Path, broker: Broker) -> None:
    script = f"""
import sys, time
from services.bus import Bus
from services.venues.scripted import ScriptedGateway
from vnpy.trader.constant import Direction, Exchange, OrderType
from vnpy.trader.object import OrderRequest
bus = Bus(); bus.start()
gw = ScriptedGateway(bus); gw.connect({{"socket": {str(broker.path)!r}}})
while gw.state.state != "CONNECTED":
    time.sleep(0.01)
gw.send_order(OrderRequest("600000", Exchange.SSE, Direction.LONG, OrderType.LIMIT, 100, 10.0,
                           reference="intent-9"))
print("sent", flush=True)
time.sleep(60)
"""
    client = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    assert client.stdout is not None and client.stdout.readline().strip() == "sent"
    os.kill(client.pid, signal.SIGKILL)
    client.wait()
    orders = broker.call("state")["orders"]
    assert [(o["reference"], o["status"]) for o in orders] == [("intent-9", "NOTTRADED")]


def test_a_trade_reported_after_the_cancel_is_still_booked(
    bus: Bus, gateway: ScriptedGateway, broker: Broker, seen: Seen
) -> None:
    portfolio = Portfolio(Universe(DEFAULT_UNIVERSE), CostConfig(), 1_000_000.0, MarketCache())
    bus.register(EVENT_TRADE, portfolio.on_trade)
    vt_orderid = gateway.send_order(_buy(volume=500, reference="intent-late"))
    seen.wait(lambda s: Status.NOTTRADED in _orders(s, vt_orderid))
    gateway.cancel_order(CancelRequest(vt_orderid.split(".", 1)[1], "600000", Exchange.SSE))
    seen.wait(lambda s: Status.CANCELLED in _orders(s, vt_orderid))
    # The exchange had filled 100 before the cancel took effect; the report comes late.
    broker.call("fill", orderid=vt_orderid.split(".", 1)[1], volume=100, fee=5.0)
    seen.wait(lambda s: len(s.of(EVENT_TRADE)) == 1)
    bus.wait_idle()
    assert portfolio.qty("600000.SSE") == 100
    assert portfolio.cash == 1_000_000.0 - 1_000.0 - 5.0
    final = [o for o in seen.of(EVENT_ORDER) if o.vt_orderid == vt_orderid][-1]
    assert final.status == Status.CANCELLED and final.traded == 100
