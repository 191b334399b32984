"""Fees, T+1 and P&L against hand-computed cases, and the identities that always hold."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.accounting.book import Book, BookError
from services.accounting.costs import CostConfig, fees_for

COSTS = CostConfig()


def test_fees_stock_buy_and_sell_by_hand() -> None:
    # 1,000 shares at 12.34 = 12,340.00 notional
    buy = fees_for(COSTS, is_etf=False, is_sell=False, qty=1000, price=12.34)
    assert buy.commission == 5.00  # 12340 * 0.00025 = 3.085 -> minimum 5
    assert buy.stamp_duty == 0.0
    assert buy.transfer_fee == 0.12  # 12340 * 0.00001 = 0.1234
    sell = fees_for(COSTS, is_etf=False, is_sell=True, qty=1000, price=12.34)
    assert sell.stamp_duty == 6.17  # 12340 * 0.0005
    assert sell.total == pytest.approx(5.00 + 6.17 + 0.12)
    # 100 x 1,468.00 = 146,800: commission above the minimum
    big = fees_for(COSTS, is_etf=False, is_sell=True, qty=100, price=1468.0)
    assert (big.commission, big.stamp_duty, big.transfer_fee) == (36.70, 73.40, 1.47)


def test_etfs_pay_commission_only() -> None:
    fee = fees_for(COSTS, is_etf=True, is_sell=True, qty=100_000, price=4.612)
    assert (fee.commission, fee.stamp_duty, fee.transfer_fee) == (115.30, 0.0, 0.0)


def test_round_trip_pnl_by_hand() -> None:
    book = Book(100_000)
    book.apply_fill("A", "buy", 1000, 10.00, 5.10)
    book.apply_fill("A", "buy", 1000, 11.00, 5.11)
    pos = book.positions["A"]
    assert pos.avg_price == pytest.approx(10.50)
    assert book.cash == pytest.approx(100_000 - 21_000 - 10.21)
    book.mark("A", 12.00)
    view = book.view()
    assert view.positions[0].unrealized == pytest.approx(3000.0)
    assert view.realized == pytest.approx(-10.21)  # fees paid so far
    book.roll_day({"A": 12.00})
    book.apply_fill("A", "sell", 500, 12.50, 11.19)
    view = book.view()
    assert view.realized == pytest.approx(-10.21 + 500 * 2.0 - 11.19)
    book.mark("A", 12.20)
    view = book.view()
    # day P&L: 1,500 held at 12.20 vs 2,000 at 12.00 yesterday, + 6,250 sold - 11.19 fees
    assert view.day_pnl == pytest.approx(1500 * 12.20 - 2000 * 12.00 + 6250 - 11.19)
    assert view.day_pnl == pytest.approx(view.equity - view.sod_equity)


def test_t_plus_1_shares_bought_today_are_not_sellable() -> None:
    book = Book(100_000)
    book.apply_fill("A", "buy", 500, 10.0, 5.0)
    assert book.sellable("A") == 0
    with pytest.raises(BookError, match="T\\+1"):
        book.apply_fill("A", "sell", 100, 10.0, 5.0)
    assert book.qty("A") == 500 and book.cash == pytest.approx(100_000 - 5005.0)  # unchanged
    book.roll_day({"A": 10.0})
    assert book.sellable("A") == 500
    book.apply_fill("A", "sell", 500, 10.5, 5.0)
    assert book.qty("A") == 0


def test_cannot_spend_more_cash_than_there_is() -> None:
    book = Book(1000)
    with pytest.raises(BookError, match="not enough cash"):
        book.apply_fill("A", "buy", 100, 10.0, 5.0)
    assert book.cash == 1000 and not book.positions["A"].qty


fills = st.lists(
    st.tuples(
        st.sampled_from(["A", "B", "C"]),
        st.sampled_from(["buy", "sell", "mark", "roll"]),
        st.integers(1, 30),  # lots
        st.floats(1.0, 200.0, allow_nan=False),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(fills)
def test_equity_is_always_cash_plus_marked_positions_and_pnl_adds_up(ops: list) -> None:  # type: ignore[type-arg]
    book = Book(1_000_000)
    last: dict[str, float] = {}
    for symbol, op, lots, price in ops:
        price = round(price, 2)
        if op == "mark":
            book.mark(symbol, price)
            last[symbol] = price
        elif op == "roll":
            book.roll_day(dict(last))
        else:
            qty = lots * 100
            if op == "sell":
                qty = min(qty, book.sellable(symbol))
                if qty == 0:
                    continue
            fee = fees_for(COSTS, is_etf=False, is_sell=op == "sell", qty=qty, price=price).total
            try:
                book.apply_fill(symbol, op, qty, price, fee)  # type: ignore[arg-type]
            except BookError:
                continue  # not enough cash: nothing may have changed (checked below)
        view = book.view()
        marked = sum(p.qty * p.last for p in book.positions.values())
        assert view.equity == pytest.approx(book.cash + marked)
        assert view.equity - book.initial_cash == pytest.approx(
            view.realized + view.unrealized, abs=1e-6
        )
        assert view.day_pnl == pytest.approx(view.equity - view.sod_equity, abs=1e-6)
        assert book.cash >= -1e-6
        for pos in book.positions.values():
            assert 0 <= pos.sellable <= pos.qty
