"""The journal rebuilds the ledger, open orders and trading state; a restart resumes
from it, shows what was lost, and never reuses an order id."""

from __future__ import annotations

from pathlib import Path

from services.events import OrderIntent, TradingState
from services.records.recovery import rebuild
from services.runtime import Services
from tests.conftest import make_services


def order(
    svc: Services,
    intent_id: str,
    side: str,
    qty: int,
    offset: float = 0.0,
    symbol: str = "600519.SSE",
) -> OrderIntent:
    tick = svc.market.get(symbol)
    assert tick is not None
    ref = tick.ask_price_1 if side == "buy" else tick.bid_price_1
    price = svc.universe.get(symbol).round_price(ref + offset)
    return OrderIntent(intent_id, symbol, side, "limit", qty, price)  # type: ignore[arg-type]


def session(data_dir: Path) -> Services:
    """Buys that fill, a day roll, a partial exit, one order left working, a HALT."""
    svc = make_services(data_dir, speed=3600, ticks_per_second=20)
    svc.start()
    assert svc.bus.wait_idle()
    assert svc.orders.submit(order(svc, "b1", "buy", 300)).accepted
    assert svc.orders.submit(order(svc, "b2", "buy", 1000, symbol="510300.SSE")).accepted
    assert svc.bus.wait_idle()
    while svc.gateway.market.trading_day.day == 23:  # to the next day: T+1 unlocks
        svc.gateway.advance(50)
    assert svc.bus.wait_idle()
    svc.gateway.advance(5)
    assert svc.bus.wait_idle()
    assert svc.orders.submit(order(svc, "s1", "sell", 100)).accepted
    rests = order(svc, "w1", "buy", 100, offset=-0.5, symbol="600036.SSE")  # 1 % under: rests
    assert svc.orders.submit(rests).accepted
    assert svc.bus.wait_idle()
    svc.control.halt("end of test session")
    return svc


def test_the_journal_rebuilds_exactly_what_the_live_ledger_holds(tmp_path: Path) -> None:
    svc = session(tmp_path)
    try:
        live = svc.portfolio.view()
        rebuilt = rebuild(svc.journal, 1_000_000.0)
        assert rebuilt.problems == []
        assert round(rebuilt.book.cash, 2) == round(live.cash, 2)
        assert {
            p.vt_symbol: (p.qty, p.sellable, round(p.avg_price, 6)) for p in live.positions
        } == {
            s: (p.qty, p.sellable, round(p.avg_price, 6))
            for s, p in rebuilt.book.positions.items()
            if p.qty
        }
        assert [o.vt_orderid for o in rebuilt.open_orders] == svc.orders.working_ids()
        [open_order] = rebuilt.open_orders
        assert (open_order.intent_id, open_order.side, open_order.qty) == ("w1", "buy", 100)
        assert (rebuilt.state, rebuilt.state_reason) == ("HALTED", "end of test session")
        doc = rebuilt.as_dict()
        assert (
            doc["positions"][0]["vt_symbol"] == "510300.SSE"
            and doc["open_orders"][0]["intent_id"] == "w1"
        )
    finally:
        svc.stop()


def test_a_restart_resumes_the_account_and_working_orders_and_never_reuses_ids(
    tmp_path: Path,
) -> None:
    svc = session(tmp_path)
    before = svc.portfolio.view()
    old_ids = {e["ref"] for e in svc.journal.entries("sent")}
    assert old_ids  # the session sent orders: "never reused" below checks something
    svc.stop()  # (a SIGKILL leaves the same journal: every entry was committed when written)

    again = make_services(tmp_path, speed=3600, ticks_per_second=20)
    again.start()
    try:
        assert again.bus.wait_idle()
        after = again.portfolio.view()
        assert round(after.cash, 2) == round(before.cash, 2)
        assert [(p.vt_symbol, p.qty, p.sellable) for p in after.positions] == [
            (p.vt_symbol, p.qty, p.sellable) for p in before.positions
        ]
        assert again.control.state is TradingState.HALTED
        notes = again.recovery_notes
        assert notes[0].startswith("restored from the journal: 3 fills, 2 positions")
        assert "1 orders working before the stop are working again" in notes
        [working] = rebuild(again.journal, 1_000_000.0).open_orders
        assert working.intent_id == "w1"
        assert again.orders.working_ids() == [working.vt_orderid]  # the kill switch would cancel it
        assert [o.vt_orderid for o in again.gateway.broker.working_orders()] == [working.vt_orderid]
        assert again.gateway.broker.reserved_cash > 0  # its cash is held again
        again.control.rearm("ARM")
        again.gateway.advance(3)
        assert again.bus.wait_idle()
        result = again.orders.submit(order(again, "n1", "buy", 100))
        assert result.accepted and result.vt_orderid not in old_ids
        assert again.bus.wait_idle()
        trade_ids = [e["payload"]["vt_tradeid"] for e in again.journal.entries("fill")]
        assert len(trade_ids) == len(set(trade_ids)) == 4
    finally:
        again.stop()
