"""The single order path over real services: checks, write-ahead journal, gateway, kill switch."""

from __future__ import annotations

from pathlib import Path

import pytest
from vnpy.event import Event
from vnpy.trader.object import OrderRequest

from services.events import EVENT_ORDER, OrderIntent, TradingState
from services.runtime import Services
from services.trading.control import RearmRefused
from tests.conftest import make_services


def buy(
    services: Services,
    qty: int = 100,
    offset: float = 0.0,
    symbol: str = "600519.SSE",
    kind: str = "limit",
) -> OrderIntent:
    tick = services.market.get(symbol)
    assert tick is not None
    price = round(tick.ask_price_1 + offset, 2) if kind == "limit" else None
    return OrderIntent(f"i{qty}{offset}", symbol, "buy", kind, qty, price)  # type: ignore[arg-type]


def test_an_intent_is_journaled_before_the_gateway_sees_it(services: Services) -> None:
    seen_at_send: list[list[str]] = []
    real_send = services.gateway.send_order

    def spy(req: OrderRequest) -> str:
        seen_at_send.append([e["kind"] for e in services.journal.entries()])
        return real_send(req)

    services.gateway.send_order = spy  # type: ignore[method-assign]
    result = services.orders.submit(buy(services))
    assert result.accepted
    assert seen_at_send == [["intent", "submit"]]  # write-ahead
    assert services.bus.wait_idle()
    kinds = [e["kind"] for e in services.journal.entries()]
    # Write-ahead: the intent and its submission come before anything the broker says.
    # Its order id ("sent") is recorded once send_order returns, on this thread, while the
    # bus's dispatcher journals the broker's first update: either may come first.
    assert kinds[:2] == ["intent", "submit"]
    assert kinds.count("sent") == 1
    assert "fill" in kinds and kinds.count("order") >= 2  # NOTTRADED then ALLTRADED
    view = services.portfolio.view()
    assert view.positions[0].qty == 100 and view.positions[0].sellable == 0


def test_broker_updates_are_journaled_before_later_handlers_run(services: Services) -> None:
    """The UI bridge registers after the services; at that point the journal has the row."""
    rows_when_ui_saw: list[int] = []
    services.bus.register(
        EVENT_ORDER,
        lambda e: rows_when_ui_saw.append(
            len(services.journal.entries("order", e.data.vt_orderid))
        ),
    )
    services.orders.submit(buy(services, offset=-30))
    assert services.bus.wait_idle()
    assert rows_when_ui_saw and all(n >= 1 for n in rows_when_ui_saw)


def test_rejected_intents_are_journaled_with_their_verdict(services: Services) -> None:
    result = services.orders.submit(buy(services, qty=150))
    assert not result.accepted
    [entry] = services.journal.entries("intent")
    assert entry["payload"]["verdict"] == "rejected"
    assert entry["payload"]["violations"][0]["rule"] == "lot_size"
    assert services.journal.entries("submit") == []


def test_kill_switch_cancels_every_working_order_and_halts(services: Services) -> None:
    for i in range(5):
        assert services.orders.submit(buy(services, qty=100, offset=-10 - i)).accepted
    working = services.orders.working_ids()
    assert len(working) == 5
    cancelled = services.kill_switch()
    assert sorted(cancelled) == sorted(working)
    assert services.control.state is TradingState.HALTED
    assert services.bus.wait_idle()
    assert services.orders.working_ids() == []
    assert services.gateway.broker.working_orders() == []
    refused = services.orders.submit(buy(services))
    assert not refused.accepted and refused.violations[0].rule == "halted"


def test_kill_switch_cancels_orders_whose_ack_is_still_queued(services: Services) -> None:
    """The bus may be backed up: working orders are known from send time, not from acks."""
    import threading

    gate = threading.Event()
    services.bus.register("block", lambda e: gate.wait(5))
    services.bus.put(Event("block"))  # the dispatcher is stuck: no acks get processed
    ids = [services.orders.submit(buy(services, offset=-20 - i)).vt_orderid for i in range(3)]
    assert sorted(services.kill_switch()) == sorted(ids)  # type: ignore[type-var]
    assert services.gateway.broker.working_orders() == []  # cancels reached the broker
    gate.set()


def test_halt_survives_a_restart_and_rearm_needs_the_word(tmp_path: Path) -> None:
    first = make_services(tmp_path)
    first.start()
    first.kill_switch("test halt")
    first.stop()
    second = make_services(tmp_path)
    assert second.control.state is TradingState.HALTED
    assert second.control.reason == "test halt"
    with pytest.raises(RearmRefused):
        second.control.rearm("arm")
    assert second.control.state is TradingState.HALTED
    second.control.rearm("ARM")
    second.journal.close()
    third = make_services(tmp_path)
    assert third.control.state is TradingState.ACTIVE
    kinds = [e["ref"] for e in third.journal.entries("state")]
    assert kinds == ["HALTED", "ACTIVE"]
    third.journal.close()


def test_fills_flow_into_positions_and_t_plus_1_unlocks_next_day(tmp_path: Path) -> None:
    svc = make_services(tmp_path, speed=3600, ticks_per_second=20)
    svc.start()
    try:
        svc.bus.wait_idle()
        assert svc.orders.submit(buy(svc, qty=200)).accepted
        svc.bus.wait_idle()
        sell = OrderIntent("s1", "600519.SSE", "sell", "market", 200, None)
        assert svc.orders.check(sell)[0].rule == "t_plus_1"
        svc.gateway.advance(100)  # 100 simulated minutes... until the close rolls the day
        while svc.gateway.market.trading_day.day == 23:
            svc.gateway.advance(50)
        svc.bus.wait_idle()
        assert svc.portfolio.sellable("600519.SSE") == 200
        assert svc.orders.check(sell) == []
    finally:
        svc.stop()


def test_a_fill_with_a_number_that_is_not_finite_is_not_booked_and_halts(
    services: Services,
) -> None:
    """A broker's trade report with a NaN price: NaN compared false with every bound, was
    booked and made the cash NaN. It is journaled as reported, never booked, and HALTs."""
    from vnpy.event import Event
    from vnpy.trader.constant import Direction, Exchange
    from vnpy.trader.object import TradeData

    from services.events import EVENT_TRADE, TradingState

    cash = services.portfolio.cash
    trade = TradeData(
        services.gateway.gateway_name,
        "600519",
        Exchange.SSE,
        "o1",
        "t1",
        Direction.LONG,
        price=float("nan"),
        volume=100,
    )
    services.bus.put(Event(EVENT_TRADE, trade))
    assert services.bus.wait_idle()
    assert services.portfolio.cash == cash and services.portfolio.qty("600519.SSE") == 0
    assert services.control.state is TradingState.HALTED
    assert "reported with price nan" in services.control.reason
    (bad,) = services.journal.entries("bad_fill")
    assert bad["payload"]["why"] == "price nan"
    assert services.journal.entries("fill") == []
