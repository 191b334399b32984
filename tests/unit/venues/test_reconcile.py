"""Reconciliation against the scripted broker (its own process): the broker decides."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from vnpy.trader.constant import Direction, Exchange, OrderType, Status
from vnpy.trader.object import OrderRequest

from services.bus import Bus
from services.events import EVENT_ORDER, EVENT_TRADE
from services.records.journal import Journal
from services.records.reconcile import reconcile
from services.records.recovery import rebuild
from services.venues.scripted import ScriptedGateway
from tests.unit.venues.conftest import Broker, Seen

CASH = 1_000_000.0


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "journal.sqlite3")
    yield j
    j.close()


def _journal_intent(journal: Journal, intent_id: str, symbol: str, qty: int, price: float) -> None:
    intent = {"intent_id": intent_id, "vt_symbol": symbol, "side": "buy", "kind": "limit"}
    journal.record("intent", intent_id, {"intent": {**intent, "qty": qty, "price": price}})
    journal.record("submit", intent_id, {"request": {"reference": intent_id}})


def _request(intent_id: str, code: str, qty: int, price: float) -> OrderRequest:
    return OrderRequest(
        code, Exchange.SSE, Direction.LONG, OrderType.LIMIT, qty, price, reference=intent_id
    )


def _orderid(vt_orderid: str) -> str:
    return vt_orderid.split(".", 1)[1]


def test_a_crash_between_the_journal_and_the_broker_is_recovered_by_asking_it(
    bus: Bus, gateway: ScriptedGateway, broker: Broker, seen: Seen, journal: Journal
) -> None:
    bus.register(EVENT_ORDER, journal.on_order)
    bus.register(EVENT_TRADE, journal.on_trade)
    # intent-1: the normal path, every step journaled.
    _journal_intent(journal, "intent-1", "600000.SSE", 500, 10.0)
    first = gateway.send_order(_request("intent-1", "600000", 500, 10.0))
    journal.record("sent", first, {"intent_id": "intent-1"})
    broker.call("fill", orderid=_orderid(first), volume=500, fee=6.2)
    seen.wait(lambda s: len(s.of(EVENT_TRADE)) == 1)
    bus.wait_idle()
    # The process dies: nothing more reaches the journal.
    bus.unregister(EVENT_ORDER, journal.on_order)
    bus.unregister(EVENT_TRADE, journal.on_trade)
    # intent-2 reached the broker (and half filled there) before its send was journaled;
    _journal_intent(journal, "intent-2", "600036.SSE", 300, 35.0)
    second = gateway.send_order(_request("intent-2", "600036", 300, 35.0))
    seen.wait(lambda s: any(o.vt_orderid == second for o in s.of(EVENT_ORDER)))
    broker.call("fill", reference="intent-2", volume=200)
    # intent-3 was journaled but the gateway was never called.
    _journal_intent(journal, "intent-3", "601318.SSE", 100, 50.0)
    # A SIGKILL here would lose nothing the broker knows: the restart asks it.
    result = reconcile(journal, gateway.statement(), CASH)
    assert [o.reference for o in result.adopted_orders] == ["intent-2"]
    assert result.adopted_orders[0].vt_orderid == second
    assert result.unsent == ["intent-3"]
    assert [(t.reference, t.qty) for t in result.adopted_fills] == [("intent-2", 200)]
    assert [(o.reference, o.traded) for o in result.updated_orders] == [("intent-2", 200)]
    assert result.external_orders == [] and result.differences == [] and not result.halt
    rebuilt = rebuild(journal, CASH)
    statement = gateway.statement()
    assert rebuilt.book.cash == pytest.approx(statement.cash)
    assert {s: p.qty for s, p in rebuilt.book.positions.items() if p.qty} == statement.positions
    # intent-2 is open again, with what the broker filled; nothing is unknown.
    assert [(o.vt_orderid, o.traded, o.status) for o in rebuilt.open_orders] == [
        (second, 200, "PARTTRADED")
    ]
    # A second reconciliation finds nothing more to adopt.
    again = reconcile(journal, gateway.statement(), CASH)
    assert again.lines() == []


def test_external_orders_are_adopted_as_such_and_a_position_changed_outside_halts(
    gateway: ScriptedGateway, broker: Broker, journal: Journal
) -> None:
    broker.call("external", symbol="600036", exchange="SSE", volume=200, price=35.0, fill=True)
    result = reconcile(journal, gateway.statement(), CASH)
    assert [o.vt_symbol for o in result.external_orders] == ["600036.SSE"]
    assert [(t.vt_symbol, t.qty) for t in result.external_fills] == [("600036.SSE", 200)]
    assert not result.halt  # explained by the external order
    assert rebuild(journal, CASH).book.qty("600036.SSE") == 200
    broker.call("set_position", symbol="601318", exchange="SSE", volume=1000)
    result = reconcile(journal, gateway.statement(), CASH)
    assert result.halt
    assert result.differences == [
        "601318.SSE: the journal's ledger holds 0, the broker 1000 (no order or trade explains it)"
    ]


def test_a_broker_fee_other_than_the_booked_one_is_adjusted_and_shown(
    gateway: ScriptedGateway, broker: Broker, seen: Seen, journal: Journal
) -> None:
    _journal_intent(journal, "intent-1", "600000.SSE", 1000, 10.0)
    vt_orderid = gateway.send_order(_request("intent-1", "600000", 1000, 10.0))
    journal.record("sent", vt_orderid, {"intent_id": "intent-1"})
    broker.call("fill", orderid=_orderid(vt_orderid), volume=1000, fee=7.5)
    seen.wait(lambda s: len(s.of(EVENT_TRADE)) == 1)
    trade = seen.of(EVENT_TRADE)[0]
    # Booked with the cost model's 5.00 (as for a gateway whose reports carry no fee).
    journal.record(
        "fill",
        vt_orderid,
        {
            "vt_tradeid": trade.vt_tradeid,
            "vt_symbol": "600000.SSE",
            "direction": "LONG",
            "price": 10.0,
            "volume": 1000,
            "fee": 5.0,
        },
    )
    journal.record("order", vt_orderid, {"status": Status.ALLTRADED.name, "traded": 1000})
    result = reconcile(journal, gateway.statement(), CASH)
    assert [(f.booked, f.broker) for f in result.fees] == [(5.0, 7.5)]
    assert result.lines() == [f"fee of {trade.vt_tradeid}: booked 5.00, broker 7.50"]
    assert not result.halt
    assert rebuild(journal, CASH).book.cash == pytest.approx(CASH - 10_000 - 7.5)
    assert reconcile(journal, gateway.statement(), CASH).lines() == []
