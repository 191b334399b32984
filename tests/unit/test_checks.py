"""Pre-trade checks: one specific, field-tagged message per problem."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from services.accounting.costs import CostConfig
from services.events import OrderIntent, TradingState
from services.instruments import DEFAULT_UNIVERSE
from services.trading.checks import CheckContext, check_intent

MOUTAI = DEFAULT_UNIVERSE[0]
CTX = CheckContext(
    instrument=MOUTAI,
    limit_down=1321.2,
    limit_up=1614.8,
    ref_price=1468.01,
    sellable=300,
    position_qty=500,
    available_cash=1_000_000,
    state=TradingState.ACTIVE,
)


def intent(
    side: str = "buy",
    qty: int = 100,
    price: float | None = 1468.0,
    kind: str = "limit",
    symbol: str = "600519.SSE",
) -> OrderIntent:
    return OrderIntent("t", symbol, side, kind, qty, price)  # type: ignore[arg-type]


def check(i: OrderIntent, ctx: CheckContext = CTX) -> list[tuple[str, str]]:
    return [(v.field, v.rule) for v in check_intent(i, ctx, CostConfig())]


def test_a_good_order_passes() -> None:
    assert check(intent()) == []
    assert check(intent(kind="market", price=None)) == []
    assert check(intent("sell", 300, 1467.0)) == []


def test_each_problem_is_named_on_its_field() -> None:
    unknown = replace(CTX, instrument=None)
    assert check(intent(symbol="999999.SSE"), unknown) == [("symbol", "unknown_symbol")]
    assert check(intent(qty=150)) == [("qty", "lot_size")]
    assert check(intent(qty=0)) == [("qty", "qty_positive")]
    assert check(intent(price=0)) == [("price", "price_positive")]
    assert check(intent(price=1468.005)) == [("price", "price_tick")]
    assert check(intent(price=1700.0)) == [("price", "price_limit")]
    assert check(intent("sell", 400, 1468.0)) == [("qty", "t_plus_1")]
    assert check(intent(qty=1000)) == [("qty", "cash")]


def test_messages_say_what_to_do() -> None:
    [v] = check_intent(intent("sell", 400), CTX, CostConfig())
    assert v.message == "Selling 400 but only 300 sellable (200 bought today unlock tomorrow, T+1)."
    [v] = check_intent(intent(price=1700.0), CTX, CostConfig())
    assert v.message == "Price 1700.00 is outside today's limits 1321.20–1614.80."
    [v] = check_intent(intent(qty=150), CTX, CostConfig())
    assert v.message == "Quantity 150 is not a multiple of the lot size 100."


def test_halted_refuses_everything_and_says_how_to_re_arm() -> None:
    ctx = replace(CTX, state=TradingState.HALTED, state_reason="kill switch (ctrl+k)")
    found = check_intent(intent(), ctx, CostConfig())
    assert [v.rule for v in found] == ["halted"]
    assert "HALTED (kill switch (ctrl+k))" in found[0].message
    assert "until you re-arm it" in found[0].message  # the key is the console's to name
    assert [v.rule for v in check_intent(intent("sell", 100), ctx, CostConfig())] == ["halted"]


def test_reducing_allows_only_sells_within_the_position() -> None:
    ctx = replace(CTX, state=TradingState.REDUCING)
    assert check(intent(), ctx) == [("state", "reducing")]
    assert check(intent("sell", 300), ctx) == []


def test_an_odd_lot_may_be_sold_only_as_the_whole_position() -> None:
    ctx = replace(CTX, sellable=150, position_qty=150)
    assert check(intent("sell", 150), ctx) == []
    assert check(intent("sell", 50), ctx) == [("qty", "lot_size")]


@given(st.integers(1, 100_000))
def test_lot_rule_for_buys(qty: int) -> None:
    rich = replace(CTX, available_cash=1e12)
    rules = [r for _, r in check(intent(qty=qty), rich)]
    assert ("lot_size" in rules) == (qty % 100 != 0)
