"""The engine against an independent one: the same moving-average crossover on
Oracle's 1995-2014 daily bars in backtrader must give identical trade dates and
prices and the same final value."""

from __future__ import annotations

import backtrader as bt
import pandas as pd
import pytest

import strategies
from services.accounting.costs import CostConfig
from services.backtest.engine import Setup, run
from services.backtest.rules import BacktestConfig, rules_for
from tests.real_data import yahoo

FAST, SLOW, STAKE, CASH = 10, 30, 100, 100_000.0


def orcl() -> pd.DataFrame:
    return yahoo("orcl-1995-2014.txt")


class Recorded(bt.Strategy):  # type: ignore[misc]
    """Keeps every completed fill: (time, price, size)."""

    def __init__(self) -> None:
        self.fills: list[tuple[pd.Timestamp, float, float]] = []

    def notify_order(self, order: bt.Order) -> None:
        if order.status == order.Completed:
            when = pd.Timestamp(bt.num2date(order.executed.dt))
            self.fills.append((when, order.executed.price, order.executed.size))


class Cross(Recorded):
    def __init__(self) -> None:
        super().__init__()
        fast = bt.ind.SMA(self.data.close, period=FAST)
        slow = bt.ind.SMA(self.data.close, period=SLOW)
        self.cross = bt.ind.CrossOver(fast, slow)

    def next(self) -> None:
        if not self.position and self.cross[0] > 0:
            self.buy(size=STAKE)
        elif self.position and self.cross[0] < 0:
            self.close()


@pytest.fixture(scope="module")
def backtrader_run() -> tuple[list[tuple[pd.Timestamp, float, float]], float]:
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=orcl()))
    cerebro.addstrategy(Cross)
    cerebro.broker.setcash(CASH)
    cerebro.broker.setcommission(commission=0.0)
    result = cerebro.run()[0]
    return result.fills, cerebro.broker.getvalue()


def test_same_trades_and_final_value_as_backtrader(
    backtrader_run: tuple[list[tuple[pd.Timestamp, float, float]], float],
) -> None:
    fills, final_value = backtrader_run
    config = BacktestConfig(us_sec_fee_rate=0.0)  # backtrader is run without costs
    rules = rules_for("ORCL.US", config, CostConfig())
    setup = Setup(init_cash=CASH, sizing="quantity", size=STAKE)
    result = run(
        strategies.get("ma_cross"),
        {"ORCL.US": orcl()},
        {"fast": FAST, "slow": SLOW},
        [rules],
        setup,
    )
    ours = []
    for trade in result.trades.itertuples():
        ours.append((trade.entry_time, trade.entry_price, float(STAKE)))
        ours.append((trade.exit_time, trade.exit_price, -float(STAKE)))
    theirs = [(t, p, s) for t, p, s in fills][: len(ours)]
    assert len(result.trades) > 90  # two decades of crossings, not a trivial case
    assert [f[0] for f in ours] == [f[0] for f in theirs]
    assert [f[2] for f in ours] == [f[2] for f in theirs]
    assert [round(f[1], 6) for f in ours] == [round(f[1], 6) for f in theirs]
    assert len(fills) - len(ours) in (0, 1)  # backtrader may hold one still-open entry
    assert result.equity.iloc[-1] == pytest.approx(final_value, abs=0.01)


class RsiReversion(Recorded):
    """Buy when RSI(14) crosses below 30, close when it crosses above 70 (backtrader's RSI:
    Wilder's smoothing seeded with the simple average, as TA-Lib's)."""

    def __init__(self) -> None:
        super().__init__()
        self.rsi = bt.ind.RSI(self.data.close, period=14, safediv=True)

    def next(self) -> None:
        if len(self.rsi) < 2:
            return
        if not self.position and self.rsi[0] < 30 <= self.rsi[-1]:
            self.buy(size=STAKE)
        elif self.position and self.rsi[0] > 70 >= self.rsi[-1]:
            self.close()


def test_rsi_trades_as_backtraders_from_the_first_bar() -> None:
    """The issue's case: NVDA from 1999-03-15. With RSI seeded as Wilder did, the first
    entry and every later trade fall on backtrader's dates and prices."""
    frame = yahoo("nvda-1999-2014.txt").loc["1999-03-15":"2004-12-31"]
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=frame))
    cerebro.addstrategy(RsiReversion)
    cerebro.broker.setcash(CASH)
    cerebro.broker.setcommission(commission=0.0)
    fills = cerebro.run()[0].fills
    config = BacktestConfig(us_sec_fee_rate=0.0)
    result = run(
        strategies.get("rsi"),
        {"NVDA.US": frame},
        {"window": 14, "lower": 30, "upper": 70},
        [rules_for("NVDA.US", config, CostConfig())],
        Setup(init_cash=CASH, sizing="quantity", size=STAKE),
    )
    ours = []
    for trade in result.trades.itertuples():
        ours += [
            (trade.entry_time, round(trade.entry_price, 6)),
            (trade.exit_time, round(trade.exit_price, 6)),
        ]
    theirs = [(t, round(p, 6)) for t, p, _ in fills][: len(ours)]
    assert len(result.trades) >= 5
    assert str(ours[0][0].date()) >= "1999-09-01"  # not 1999-04-27, as before the fix
    assert ours == theirs
