"""What independent oracles caught in the backtest, each case built by hand: sealed limit
bars do not trade, a portfolio's symbol trades as it does alone, walk-forward windows
trade flat to flat with every trade listed, and a late start fills the signal of the bar
before it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import strategies
from services.accounting.costs import CostConfig
from services.backtest.engine import Panel, Setup, run, simulate
from services.backtest.optimize import walk_forward
from services.backtest.rules import BacktestConfig, rules_for
from tests.unit.backtest.helpers import bars, signals

STOCK = rules_for("600000.SSE", BacktestConfig(), CostConfig())
ST = rules_for("600001.SSE", BacktestConfig(), CostConfig(), name="*ST 某某")
ETF = rules_for("510300.SSE", BacktestConfig(), CostConfig())
MA = strategies.get("ma_cross")


def orders(sim: object) -> list[tuple[int, int, float]]:
    return [(int(o["idx"]), int(o["side"]), float(o["price"])) for o in sim.orders]  # type: ignore[attr-defined]


def test_a_sealed_limit_up_bar_is_not_bought_and_the_order_waits_for_a_signal() -> None:
    # signal after bar 0; bar 1 is one price at limit-up (10.00 * 1.1 = 11.00): sealed
    frame = bars([10.0, 11.0, 11.5, 11.6])
    entries, exits = signals(4, [0], [])
    sim = simulate(Panel.of({"600000.SSE": frame}), entries, exits, [STOCK], Setup(10_000))
    assert orders(sim) == []  # not at 11.00, and not later: no new signal came
    open_at_limit = bars(
        [10.0, 11.0, 11.5, 11.6], highs=[10, 11.2, 11.5, 11.6], lows=[10, 10.8, 11.5, 11.6]
    )  # opens at the limit but trades below
    sim = simulate(Panel.of({"600000.SSE": open_at_limit}), entries, exits, [STOCK], Setup(10_000))
    assert orders(sim) == [(1, 0, 11.0)]  # not sealed: it fills


def test_a_sealed_limit_down_bar_sells_nothing_not_even_a_stop() -> None:
    frame = bars([10.0, 10.0, 10.0, 9.0, 8.5])  # bar 3: one price at 9.00 = 10.00 * 0.9
    entries, exits = signals(5, [0], [2])
    sim = simulate(Panel.of({"600000.SSE": frame}), entries, exits, [STOCK], Setup(10_000))
    assert orders(sim) == [(1, 0, 10.0)]  # the exit signal's bar was sealed: still held
    stop = Setup(10_000, stop_loss=0.05)
    sim = simulate(Panel.of({"600000.SSE": frame}), *signals(5, [0], []), [STOCK], stop)
    assert orders(sim) == [(1, 0, 10.0), (4, 1, 8.5)]  # the stop sells on the next open


def test_limits_follow_the_board_the_name_and_the_tick() -> None:
    st = bars([10.0, 10.5, 10.6])  # *ST: 5 %, so 10.50 is limit-up, sealed
    sim = simulate(Panel.of({"600001.SSE": st}), *signals(3, [0], []), [ST], Setup(10_000))
    assert orders(sim) == []
    etf = bars([4.0, 4.4, 4.5])  # ETF: 10 %, tick 0.001: 4.400 is limit-up, sealed
    sim = simulate(Panel.of({"510300.SSE": etf}), *signals(3, [0], []), [ETF], Setup(10_000))
    assert orders(sim) == []
    us = rules_for("AAPL.US", BacktestConfig(), CostConfig())  # no daily limit there
    sim = simulate(
        Panel.of({"AAPL.US": bars([10.0, 11.0, 11.5])}), *signals(3, [0], []), [us], Setup(10_000)
    )
    assert orders(sim) == [(1, 0, 11.0)]


def _walk(n: int, seed: int, start: str = "2015-01-05") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 10 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    return pd.DataFrame(
        {
            "open": close.round(2),
            "high": (close * 1.01).round(2),
            "low": (close * 0.99).round(2),
            "close": close.round(2),
            "volume": 1e6,
        },
        index=pd.bdate_range(start, periods=n, name="datetime"),
    )


@pytest.mark.parametrize("name", ["ma_cross", "bollinger", "donchian"])
def test_a_symbol_trades_in_a_portfolio_as_it_does_alone_across_a_suspension(name: str) -> None:
    """The union index put empty rows into a suspended symbol's series, and its rolling
    windows skipped signals for a window after the gap."""
    strategy = strategies.get(name)
    full = _walk(900, 1)
    days = full.index
    a = full.drop(index=[d for k, d in enumerate(days) if k % 40 < 6])  # often suspended
    b = _walk(900, 2)  # trades every day
    alone = run(strategy, {"600000.SSE": a}, None, [STOCK], Setup(size=0.5))
    together = run(
        strategy, {"600000.SSE": a, "600036.SSE": b}, None, [STOCK, STOCK], Setup(size=0.5)
    )
    mine = together.trades[together.trades["symbol"] == "600000.SSE"]
    cols = ["entry_time", "entry_price", "exit_time", "exit_price"]
    assert len(alone.trades) > 5
    pd.testing.assert_frame_equal(
        alone.trades[cols].reset_index(drop=True), mine[cols].reset_index(drop=True)
    )


def test_walk_forward_trades_flat_to_flat_and_its_trades_add_up_to_its_equity() -> None:
    bars_ = _walk(1100, 5)
    combos = MA.combinations({"fast": [3, 5, 10], "slow": [20, 40]})
    wf = walk_forward(MA, "x.SSE", bars_, combos, STOCK, Setup(), train=400, test=100)
    assert (wf.windows["carried"] == 0).all()
    ends = wf.windows["test_end"]
    for end in ends:  # every window's last bar holds nothing but cash
        sold = wf.trades[wf.trades["exit_time"] == end]
        bought = wf.trades[(wf.trades["entry_time"] <= end) & (wf.trades["exit_time"] > end)]
        assert bought.empty, "a position crossed a window's end"
        del sold
    gained = float(wf.equity.iloc[-1]) - Setup().init_cash
    assert wf.trades["pnl"].sum() == pytest.approx(gained, abs=0.01)
    wins = (wf.trades["pnl"] > 0).mean()
    assert wf.metrics["win_rate"] == pytest.approx(wins)
    assert (wf.metrics["total_return"] > 0) == (gained > 0)


def test_a_late_start_fills_the_signal_of_the_bar_before_it() -> None:
    frame = _walk(800, 7)
    full = run(MA, {"600000.SSE": frame}, {"fast": 5, "slow": 20}, [STOCK], Setup())
    # start on the bar after an entry signal: the full run enters at that bar's open
    entry = full.trades["entry_time"].iloc[3]
    start = int(frame.index.get_loc(entry))
    late = run(
        MA,
        {"600000.SSE": frame},
        {"fast": 5, "slow": 20},
        [STOCK],
        Setup(),
        window=(start, len(frame)),
    )
    assert late.trades["entry_time"].iloc[0] == entry
    assert late.trades["entry_price"].iloc[0] == full.trades["entry_price"].iloc[3]


def test_a_share_runs_annualise_by_the_exchanges_sessions() -> None:
    """242-244 sessions a year (China's statutory holidays closed), not 252; the demo's
    history has the same calendar; other markets keep 252; [backtest] trading_days wins."""
    from datetime import date

    from services.backtest.request import execute
    from services.backtest.spec import Request
    from services.data.exchange_calendar import sessions, sessions_per_year
    from services.data.sources.demo import DemoSource

    per_year = {y: len(sessions(date(y, 1, 1), date(y, 12, 31))) for y in range(2016, 2027)}
    assert set(per_year.values()) <= {242, 243, 244}
    assert date(2026, 10, 1) not in sessions(date(2026, 9, 28), date(2026, 10, 9))
    days = set(DemoSource(date(2026, 11, 24)).calendar())
    assert date(2026, 2, 17) not in days and date(2026, 2, 24) in days  # Spring Festival
    frame = _walk(800, 3, start="2020-01-02")
    frame.index = pd.DatetimeIndex(sessions(date(2020, 1, 2), date(2024, 12, 31))[:800])
    read = {"600000.SSE": frame, "AAPL.US": frame}.__getitem__

    def factor(symbol: str, config: BacktestConfig) -> float:
        doc = execute(Request("ma_cross", (symbol,)), read, config, CostConfig())
        return float(doc["setup"]["ann_factor"])

    expected = sessions_per_year(frame.index[0].date(), frame.index[-1].date())
    assert 242 <= expected <= 244
    assert factor("600000.SSE", BacktestConfig()) == pytest.approx(expected)
    assert factor("AAPL.US", BacktestConfig()) == 252
    assert factor("600000.SSE", BacktestConfig(trading_days=250)) == 250
