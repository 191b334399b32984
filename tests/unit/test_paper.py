"""Paper matching: touch fills, resting fills at the limit, partial fills, IOC market orders."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest
from vnpy.trader.constant import Direction, Exchange, OrderType, Status
from vnpy.trader.object import OrderData, OrderRequest, TradeData

from services.accounting.costs import CostConfig
from services.instruments import DEFAULT_UNIVERSE, Universe
from services.venues.paper import PaperBroker
from services.venues.quote import Quote

NOW = datetime(2026, 11, 23, 10, 0)
Q = Quote(
    vt_symbol="600519.SSE",
    at=NOW,
    last=1468.0,
    prev_close=1468.0,
    open=1468.0,
    high=1468.0,
    low=1468.0,
    bid=1467.99,
    ask=1468.01,
    bid_volume=500,
    ask_volume=300,
    volume=0,
    turnover=0.0,
    limit_up=1614.8,
    limit_down=1321.2,
)


def broker(cash: float = 1_000_000) -> PaperBroker:
    return PaperBroker(Universe(DEFAULT_UNIVERSE), CostConfig(), cash, "SIM")


def req(side: str, qty: int, price: float = 0.0, kind: OrderType = OrderType.LIMIT) -> OrderRequest:
    direction = Direction.LONG if side == "buy" else Direction.SHORT
    return OrderRequest("600519", Exchange.SSE, direction, kind, qty, price)


def orders(updates: list) -> list[OrderData]:  # type: ignore[type-arg]
    return [u for u in updates if isinstance(u, OrderData)]


def trades(updates: list) -> list[TradeData]:  # type: ignore[type-arg]
    return [u for u in updates if isinstance(u, TradeData)]


def test_marketable_limit_fills_at_the_touch_up_to_its_volume_then_rests() -> None:
    b = broker()
    ups = b.submit(req("buy", 500, 1470.0), Q, NOW)
    assert [t.volume for t in trades(ups)] == [300]  # only 300 offered at the touch
    assert trades(ups)[0].price == 1468.01
    assert orders(ups)[-1].status == Status.PARTTRADED
    # next quote: offer drops below the limit -> the rest fills at the order's own price
    ups = b.on_quote(replace(Q, ask=1469.0, ask_volume=1000))
    assert [(t.volume, t.price) for t in trades(ups)] == [(200, 1470.0)]
    assert orders(ups)[-1].status == Status.ALLTRADED
    assert b.book.qty("600519.SSE") == 500
    assert b.reserved_cash == pytest.approx(0.0)


def test_passive_limit_waits_and_cancel_releases_the_cash() -> None:
    b = broker()
    ups = b.submit(req("buy", 100, 1400.0), Q, NOW)
    assert orders(ups)[-1].status == Status.NOTTRADED and not trades(ups)
    assert b.reserved_cash > 140_000
    assert b.on_quote(replace(Q, ask=1400.5)) == []
    ups = b.cancel("SIM.1")
    assert orders(ups)[-1].status == Status.CANCELLED
    assert b.reserved_cash == pytest.approx(0.0)
    assert b.cancel("SIM.1") == []  # already final


def test_market_orders_are_immediate_or_cancel() -> None:
    b = broker()
    ups = b.submit(req("buy", 500, kind=OrderType.MARKET), Q, NOW)
    assert sum(t.volume for t in trades(ups)) == 300
    final = orders(ups)[-1]
    assert final.status == Status.CANCELLED and final.traded == 300
    assert "remainder cancelled" in final.extra["reason"]  # type: ignore[index]
    assert b.reserved_cash == pytest.approx(0.0)


def test_market_buy_reserves_cash_at_limit_up() -> None:
    ups = broker().submit(req("buy", 1000, kind=OrderType.MARKET), Q, NOW)
    assert ups[0].status == Status.REJECTED  # type: ignore[union-attr]
    assert "need 1,615,219.85" in ups[0].extra["reason"]  # type: ignore[union-attr, index]


def test_no_sellers_at_limit_up_means_no_market_buy_fill() -> None:
    b = broker()
    at_limit = replace(Q, last=1614.8, ask=0.0, ask_volume=0, bid=1614.8)
    ups = b.submit(req("buy", 100, kind=OrderType.MARKET), at_limit, NOW)
    assert not trades(ups) and orders(ups)[-1].status == Status.CANCELLED


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (req("buy", 150, 1468.0), "multiple of the lot"),
        (req("buy", 100, 1700.0), "outside today's limits"),
        (req("sell", 100, 1468.0), "sellable"),
        (req("buy", 100_000, 1468.0), "not enough cash"),
    ],
)
def test_broker_rejects_what_the_account_or_exchange_cannot_take(
    request_: OrderRequest, reason: str
) -> None:
    ups = broker().submit(request_, Q, NOW)
    assert len(ups) == 1 and ups[0].status == Status.REJECTED  # type: ignore[union-attr]
    assert reason in ups[0].extra["reason"]  # type: ignore[union-attr, index]


def test_t_plus_1_at_the_broker_and_day_roll_unlocks() -> None:
    b = broker()
    b.submit(req("buy", 100, 1470.0), Q, NOW)
    assert b.available_to_sell("600519.SSE") == 0
    ups = b.submit(req("sell", 100, 1467.0), Q, NOW)
    assert ups[0].status == Status.REJECTED  # type: ignore[union-attr]
    b.roll_day({"600519.SSE": 1468.0})
    ups = b.submit(req("sell", 100, 1467.0), Q, NOW)
    assert trades(ups)[0].price == 1467.99 and b.book.qty("600519.SSE") == 0


def test_working_orders_expire_at_the_close() -> None:
    b = broker()
    b.submit(req("buy", 100, 1400.0), Q, NOW)
    ups = b.roll_day({"600519.SSE": 1468.0})
    assert orders(ups)[0].status == Status.CANCELLED and not b.working_orders()
    assert b.reserved_cash == pytest.approx(0.0)


def test_fills_carry_fees_and_the_cash_matches_by_hand() -> None:
    b = broker()
    ups = b.submit(req("buy", 100, 1470.0), replace(Q, ask_volume=10_000), NOW)
    fee = trades(ups)[0].extra["fee"]  # type: ignore[index]
    assert fee == pytest.approx(36.70 + 1.47)  # 146,801 x 2.5 bp, transfer 0.001 %
    assert b.book.cash == pytest.approx(1_000_000 - 146_801 - fee)
