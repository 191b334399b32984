"""Fills and costs worked out by hand: A-share lots, the 5 CNY minimum commission,
stamp duty on the sell only, sizing, stops, and cash shared by a portfolio."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.accounting.costs import CostConfig, fees_for
from services.backtest.engine import Panel, Setup, simulate
from services.backtest.kernel import fees_nb
from services.backtest.rules import BacktestConfig, rules_for
from tests.unit.backtest.helpers import bars, signals

STOCK = rules_for("600000.SSE", BacktestConfig(), CostConfig())
ETF = rules_for("510300.SSE", BacktestConfig(), CostConfig())


def fills(sim: object) -> list[tuple[int, str, float, float, float]]:
    orders = sim.orders  # type: ignore[attr-defined]
    return [
        (int(o["idx"]), "sell" if o["side"] else "buy", o["size"], o["price"], round(o["fees"], 2))
        for o in orders
    ]


def test_a_share_round_trip_by_hand() -> None:
    # buy after bar 0 at bar 1's open 10.00; sell after bar 2 at bar 3's open 11.00
    frame = bars([10, 10, 10.5, 11, 11])
    entries, exits = signals(5, [0], [2])
    sim = simulate(
        Panel.of({"600000.SSE": frame}), entries, exits, [STOCK], Setup(init_cash=10_000)
    )
    # 10,000 / (10 x 1.00026) = 999.7 shares -> 900 (lots of 100)
    # buy 9,000: commission 2.25 -> the 5.00 minimum, transfer 0.09, no stamp duty
    # sell 9,900: commission 2.475 -> 5.00, stamp duty 4.95, transfer 0.099 -> 0.10
    assert fills(sim) == [(1, "buy", 900, 10.0, 5.09), (3, "sell", 900, 11.0, 10.05)]
    assert sim.value[-1, 0] == pytest.approx(10_000 - 9_005.09 + 9_889.95)
    assert sim.metrics["trades"][0] == 1 and sim.metrics["win_rate"][0] == 1.0


def test_size_is_cut_a_lot_when_cash_does_not_cover_the_fees() -> None:
    # 10,004 buys 1,000 shares at 10.00 before fees, but 10,000 + 5 + 0.10 > 10,004
    entries, exits = signals(3, [0])
    sim = simulate(
        Panel.of({"600000.SSE": bars([10, 10, 10])}),
        entries,
        exits,
        [STOCK],
        Setup(init_cash=10_004),
    )
    assert fills(sim) == [(1, "buy", 900, 10.0, 5.09)]


def test_etfs_pay_commission_only() -> None:
    entries, exits = signals(4, [0], [1])
    sim = simulate(
        Panel.of({"510300.SSE": bars([4, 4, 4.2, 4.2])}),
        entries,
        exits,
        [ETF],
        Setup(init_cash=100_000),
    )
    # 100,000 / 4.001 -> 24,900 shares; 99,600 x 0.025 % = 24.90 commission each side
    assert fills(sim) == [(1, "buy", 24_900, 4.0, 24.9), (2, "sell", 24_900, 4.2, 26.15)]


@settings(max_examples=200, deadline=None)
@given(
    lots=st.integers(1, 500),
    price=st.floats(0.5, 2000).map(lambda p: round(p, 2)),
    sell=st.booleans(),
)
def test_kernel_fees_equal_the_paper_brokers(lots: int, price: float, sell: bool) -> None:
    c = CostConfig()
    paper = fees_for(c, is_etf=False, is_sell=sell, qty=lots * 100, price=price).total
    kernel = fees_nb(
        lots * 100.0,
        price,
        sell,
        c.commission_rate,
        c.commission_min,
        0.0,
        c.stamp_duty_rate,
        c.transfer_fee_rate,
    )
    assert kernel == pytest.approx(paper, abs=1e-9)


@pytest.mark.parametrize(
    ("sizing", "size", "shares"),
    [("quantity", 250, 200), ("notional", 5_000, 500), ("percent", 0.5, 500)],
)
def test_sizing_rounds_down_to_lots(sizing: str, size: float, shares: int) -> None:
    entries, exits = signals(3, [0])
    setup = Setup(init_cash=10_000, sizing=sizing, size=size)
    sim = simulate(Panel.of({"600000.SSE": bars([10, 10, 10])}), entries, exits, [STOCK], setup)
    assert fills(sim)[0][2] == shares


@pytest.mark.parametrize(
    ("stops", "bar2", "exit_price"),
    [
        ({"stop_loss": 0.05}, (9.8, 9.9, 9.4, 9.6), 9.5),  # low reaches 9.50
        ({"stop_loss": 0.05}, (9.0, 9.2, 8.8, 9.0), 9.0),  # gaps below: fills at the open
        ({"take_profit": 0.10}, (10.5, 11.5, 10.4, 11.2), 11.0),  # high reaches 11.00
        ({"trailing_stop": 0.10}, (11.5, 11.6, 10.7, 11.0), 10.8),  # 10 % under bar 1's 12.00
    ],
)
def test_stops_fill_at_their_level_or_at_a_gapped_open(
    stops: dict[str, float], bar2: tuple[float, float, float, float], exit_price: float
) -> None:
    # bar 1: entry at 10.00; its low of 9.00 cannot stop it out (T+1), its high 12 sets the trail
    frame = bars(
        [10, 10, bar2[0], 10],
        highs=[10, 12, bar2[1], 10],
        lows=[10, 9, bar2[2], 10],
        closes=[10, 10, bar2[3], 10],
    )
    entries, exits = signals(4, [0])
    setup = Setup(init_cash=100_000, **stops)  # type: ignore[arg-type]
    sim = simulate(Panel.of({"600000.SSE": frame}), entries, exits, [STOCK], setup)
    assert [(f[0], f[1], f[3]) for f in fills(sim)] == [(1, "buy", 10.0), (2, "sell", exit_price)]


def test_a_suspended_bar_cannot_trade_and_is_valued_at_the_last_close() -> None:
    frame = bars([10, np.nan, 11, 11])
    entries, exits = signals(4, [0])
    sim = simulate(
        Panel.of({"600000.SSE": frame}), entries, exits, [STOCK], Setup(init_cash=10_000)
    )
    assert fills(sim) == []  # the signal's bar-1 open is missing; it does not carry over
    entries, exits = signals(4, [0], [1])
    frame = bars([10, 10, np.nan, 11])
    sim = simulate(
        Panel.of({"600000.SSE": frame}), entries, exits, [STOCK], Setup(init_cash=10_000)
    )
    assert [f[:2] for f in fills(sim)] == [(1, "buy")]  # the exit at bar 2's open cannot fill
    assert sim.value[2, 0] == sim.value[1, 0]  # held through the gap at bar 1's close


def test_a_portfolio_shares_cash_and_sells_before_it_buys() -> None:
    a, b = bars([10, 10, 10, 10]), bars([20, 20, 20, 20])
    entries = np.array([[1, 0], [0, 1], [0, 0], [0, 0]], dtype=bool)
    exits = np.array([[0, 0], [1, 0], [0, 0], [0, 0]], dtype=bool)
    sim = simulate(
        Panel.of({"600000.SSE": a, "600004.SSE": b}),
        entries,
        exits,
        [STOCK, STOCK],
        Setup(init_cash=100_000),
        col_sym=np.array([0, 1]),
        groups=np.array([0]),
    )
    got = fills(sim)
    # bar 1: A takes the cash; bar 2: A is sold first, and B buys with the proceeds
    assert [(f[0], f[1], f[2]) for f in got] == [
        (1, "buy", 9_900),
        (2, "sell", 9_900),
        (2, "buy", 4_900),
    ]
    assert sim.value.shape == (4, 1)
    assert sim.metrics["trades"][0] == 1


def test_each_market_has_its_lots_and_costs_and_fees_replace_the_commission_rate() -> None:
    config, costs = BacktestConfig(hk_lot=500), CostConfig()
    hk = rules_for("00700.HK", config, costs)
    us = rules_for("AAPL.US", config, costs)
    assert (hk.lot, hk.stamp_duty_buy, hk.stamp_duty_sell, hk.commission_min) == (
        500,
        0.001,
        0.001,
        3.0,
    )
    assert (us.lot, us.stamp_duty_buy, us.commission_rate) == (1, 0.0, 0.0)
    assert us.stamp_duty_sell == config.us_sec_fee_rate  # the SEC fee: sells only
    assert (STOCK.stamp_duty_buy, STOCK.stamp_duty_sell) == (0.0, costs.stamp_duty_rate)
    assert (ETF.stamp_duty_sell, ETF.transfer_fee_rate, ETF.commission_min) == (0.0, 0.0, 5.0)
    assert rules_for("000300.INDEX", config, costs).commission_rate == 0.0
    assert rules_for("600000.SSE", config, costs, fees=0.001).commission_rate == 0.001
    with pytest.raises(ValueError, match="--fees is a fraction of notional"):
        rules_for("600000.SSE", config, costs, fees=5)
    futures = rules_for("FDAX.EUREX", config, costs)  # vnpy's name: a frictionless proxy
    assert futures.market.startswith("futures") and (futures.lot, futures.commission_rate) == (1, 0)
    assert rules_for("ORCL.NASDAQ", config, costs).market == "US"
    assert rules_for("00700.SEHK", config, costs).lot == config.hk_lot
    with pytest.raises(ValueError, match="unsupported exchange"):
        rules_for("X.NOWHERE", config, costs)
