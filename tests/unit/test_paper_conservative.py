"""Paper fills on real quotes (conservative model), case by case, and the property that a
paper fill never beats the quotes that were on screen."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st
from vnpy.trader.constant import Direction, Exchange, OrderType, Status
from vnpy.trader.object import OrderData, OrderRequest, TradeData

from services.accounting.costs import CostConfig, fees_for
from services.instruments import DEFAULT_UNIVERSE, Universe
from services.venues.paper import Conditions, PaperBroker
from services.venues.quote import Quote
from tests.unit.test_paper import NOW

INST = Universe(DEFAULT_UNIVERSE).get("600036.SSE")  # 招商银行, tick 0.01
Q = Quote(
    vt_symbol="600036.SSE",
    at=NOW,
    last=43.10,
    prev_close=43.10,
    open=43.10,
    high=43.10,
    low=43.10,
    bid=43.09,
    ask=43.11,
    bid_volume=1_000,
    ask_volume=800,
    volume=100_000,
    turnover=4_310_000.0,
    limit_up=47.41,
    limit_down=38.79,
)
AUCTION = Conditions(matching=False)
STALE = Conditions(stale=True)


def broker() -> PaperBroker:
    b = PaperBroker(Universe(DEFAULT_UNIVERSE), CostConfig(), 1_000_000, "PAPER", conservative=True)
    b.book.apply_fill("600036.SSE", "buy", 10_000, 40.0, 0.0)
    b.book.roll_day({"600036.SSE": 43.10})  # yesterday's shares: sellable today
    return b


def req(side: str, qty: int, price: float, kind: OrderType = OrderType.LIMIT) -> OrderRequest:
    direction = Direction.LONG if side == "buy" else Direction.SHORT
    return OrderRequest("600036", Exchange.SSE, direction, kind, qty, price)


def trades(updates: list) -> list[TradeData]:  # type: ignore[type-arg]
    return [u for u in updates if isinstance(u, TradeData)]


def last_order(updates: list) -> OrderData:  # type: ignore[type-arg]
    return [u for u in updates if isinstance(u, OrderData)][-1]


def tape(quote: Quote, last: float, traded: int, **kw: object) -> Quote:
    """The next snapshot: ``traded`` more shares, the last at ``last``."""
    return replace(quote, last=last, volume=quote.volume + traded, **kw)  # type: ignore[arg-type]


def test_a_marketable_order_fills_at_the_opposite_touch_up_to_its_size() -> None:
    b = broker()
    ups = b.submit(req("buy", 1_000, 43.20), Q, NOW)
    assert [(t.price, t.volume) for t in trades(ups)] == [(43.11, 800)]
    assert last_order(ups).status == Status.PARTTRADED  # 200 rest at 43.20


def test_the_opposite_touch_reaching_a_resting_order_is_not_a_fill() -> None:
    b = broker()
    b.submit(req("buy", 500, 43.05), Q, NOW)
    touching = replace(Q, ask=43.05, bid=43.04)  # an offer at our price, nothing traded
    assert b.on_quote(touching) == []


def test_a_trade_through_fills_at_the_limit_up_to_the_volume_traded() -> None:
    b = broker()
    b.submit(req("buy", 500, 43.05), Q, NOW)
    ups = b.on_quote(tape(Q, 43.04, 300))  # traded below our bid
    assert [(t.price, t.volume) for t in trades(ups)] == [(43.05, 300)]
    ups = b.on_quote(tape(tape(Q, 43.04, 300), 43.03, 5_000))
    assert [(t.price, t.volume) for t in trades(ups)] == [(43.05, 200)]
    assert last_order(ups).status == Status.ALLTRADED


def test_at_its_price_it_fills_only_after_the_queue_ahead_traded() -> None:
    b = broker()
    b.submit(req("buy", 500, 43.09), Q, NOW)  # joins the bid: 1,000 shares ahead
    q1 = tape(Q, 43.09, 700)
    assert b.on_quote(q1) == []  # 300 still ahead
    q2 = tape(q1, 43.09, 500)  # 300 of it clears the queue, 200 reach us
    assert [(t.price, t.volume) for t in trades(b.on_quote(q2))] == [(43.09, 200)]


def test_a_better_price_has_nobody_ahead() -> None:
    b = broker()
    b.submit(req("sell", 400, 43.10), Q, NOW)  # inside the spread: first in its queue
    ups = b.on_quote(tape(Q, 43.10, 250))
    assert [(t.price, t.volume) for t in trades(ups)] == [(43.10, 250)]


def test_nothing_fills_at_a_sealed_limit() -> None:
    b = broker()
    sealed_up = replace(Q, last=47.41, bid=47.41, ask=0.0, ask_volume=0, bid_volume=900_000)
    ups = b.submit(req("buy", 100, 47.41), sealed_up, NOW)
    assert trades(ups) == [] and last_order(ups).status == Status.NOTTRADED
    assert b.on_quote(tape(sealed_up, 47.41, 50_000)) == []  # trades at the limit: not ours
    sealed_down = replace(Q, last=38.79, ask=38.79, bid=0.0, bid_volume=0, ask_volume=900_000)
    ups = b.submit(req("sell", 100, 38.79), sealed_down, NOW)
    assert trades(ups) == [] and b.on_quote(tape(sealed_down, 38.79, 50_000)) == []


def test_nothing_fills_in_an_auction_on_a_stale_quote_or_a_suspended_symbol() -> None:
    for when, quote in ((AUCTION, Q), (STALE, Q), (Conditions(), replace(Q, suspended=True))):
        b = broker()
        ups = b.submit(req("buy", 100, 43.20), quote, NOW, when)
        assert trades(ups) == [] and last_order(ups).status == Status.NOTTRADED
        assert b.on_quote(tape(quote, 43.00, 10_000), when) == []  # even a trade-through
        # once matching resumes on a fresh quote, it fills
        assert trades(b.on_quote(tape(replace(Q, suspended=False), 43.00, 20_000)))


def test_a_market_order_in_an_auction_is_cancelled_not_filled() -> None:
    b = broker()
    ups = b.submit(req("buy", 100, 0.0, OrderType.MARKET), Q, NOW, AUCTION)
    assert trades(ups) == [] and last_order(ups).status == Status.CANCELLED


def test_fees_and_t_plus_one_are_as_in_the_demo() -> None:
    b = broker()
    ups = b.submit(req("buy", 100, 43.11), Q, NOW)
    expected = fees_for(CostConfig(), is_etf=False, is_sell=False, qty=100, price=43.11)
    assert trades(ups)[0].extra["fee"] == expected.total  # type: ignore[index]
    bought_today = b.book.positions["600036.SSE"]
    assert bought_today.qty == 10_100 and bought_today.sellable == 10_000


snapshots = st.lists(
    st.tuples(
        st.integers(-8, 8),  # last price move, ticks
        st.integers(0, 3_000),  # volume traded since the previous snapshot
        st.integers(1, 5),  # spread, ticks
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(
    side=st.sampled_from(["buy", "sell"]),
    offset=st.integers(-5, 5),
    qty=st.integers(1, 30).map(lambda n: n * 100),
    moves=snapshots,
)
def test_paper_fills_never_beat_the_quotes_on_screen(
    side: str, offset: int, qty: int, moves: list[tuple[int, int, int]]
) -> None:
    """A buy never fills below what the market showed (the ask it took, or the last trade
    when resting) nor above its limit; a sell mirrors it; no fill exceeds the size shown
    or the volume traded."""
    b = broker()
    price = INST.round_price(Q.last + offset * INST.tick)
    quote = Q
    fills = [(t, quote) for t in trades(b.submit(req(side, qty, price), quote, NOW))]
    for move, traded, spread in moves:
        last = INST.round_price(max(38.80, min(47.40, quote.last + move * INST.tick)))
        bid = INST.round_price(last - (spread // 2) * INST.tick)
        ask = INST.round_price(bid + spread * INST.tick)
        quote = replace(quote, last=last, bid=bid, ask=ask, volume=quote.volume + traded)
        fills += [(t, quote) for t in trades(b.on_quote(quote))]
    filled = 0
    for trade, shown in fills:
        filled += trade.volume
        if side == "buy":
            assert trade.price <= price + 1e-9
            assert trade.price >= min(shown.ask, shown.last) - 1e-9
        else:
            assert trade.price >= price - 1e-9
            assert trade.price <= max(shown.bid, shown.last) + 1e-9
    assert filled <= qty
