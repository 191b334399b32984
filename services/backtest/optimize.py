"""Choosing parameters without fooling yourself: sensitivity, out-of-sample, walk-forward.

Parameters are chosen on in-sample bars only. Signals for a later window are
computed over all bars up to that window's end -- strategies are causal (a
test proves appending bars never changes past signals) -- so indicators are
warmed up without seeing the future, and the simulation runs on the window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from services.backtest import metrics as m
from services.backtest.engine import Setup, SweepResult, run, sweep
from services.backtest.rules import MarketRules
from strategies import Strategy


def sensitivity(result: SweepResult) -> dict[str, float | None]:
    """How the metric holds up one grid step around the best combination.

    ``hold`` is the neighbours' mean divided by the best value: near 1 is a
    plateau, near 0 (or negative) a lucky spike.
    """
    table, metric, axes = result.table, result.metric, result.axes
    best = table.iloc[0]
    near = pd.Series(True, index=table.index)
    for axis in axes:
        values = np.sort(table[axis].unique())
        pos = {v: i for i, v in enumerate(values)}
        steps = table[axis].map(pos) - pos[best[axis]]
        near &= steps.abs() <= 1
    near.iloc[0] = False
    around = table.loc[near, metric].dropna()
    best_value = float(best[metric])
    if around.empty or not np.isfinite(best_value):
        return {
            "best": m.finite(best_value),
            "neighbours": 0,
            "mean": None,
            "min": None,
            "hold": None,
        }
    mean = float(around.mean())
    return {
        "best": m.finite(best_value),
        "neighbours": len(around),
        "mean": m.finite(mean),
        "min": m.finite(float(around.min())),
        "hold": m.finite(mean / best_value) if best_value else None,
    }


def heatmap(result: SweepResult, metric: str | None = None) -> pd.DataFrame:
    """The metric over a two-parameter grid: rows the first axis, columns the second."""
    if len(result.axes) != 2:
        raise ValueError(f"a heatmap needs exactly two varying parameters, got {result.axes}")
    rows, cols = result.axes
    return result.table.pivot_table(
        index=rows, columns=cols, values=metric or result.metric, aggfunc="first"
    )


@dataclass
class WalkForward:
    windows: pd.DataFrame  # train/test ranges, chosen params, in- and out-of-sample metric
    equity: pd.Series  # stitched out-of-sample equity
    metrics: dict[str, float | None]  # of the stitched equity
    trades: pd.DataFrame


def walk_forward(
    strategy: Strategy,
    symbol: str,
    bars: pd.DataFrame,
    combos: Sequence[Mapping[str, float]],
    rules: MarketRules,
    setup: Setup,
    train: int,
    test: int,
    metric: str = "sharpe",
) -> WalkForward:
    """Rolling windows: choose on ``train`` bars, trade the next ``test`` bars, roll by ``test``.

    Each test window trades flat to flat -- what it holds is sold at its last bar's close,
    fee and all, and listed with its trades -- and the next starts with the cash that
    left; the out-of-sample equity is those windows stitched together. A position that
    cannot be sold there (suspended, sealed at limit-down) is carried as its value and
    counted in the window's ``carried``.
    """
    if train < 2 or test < 1:
        raise ValueError(f"walk-forward needs train >= 2 and test >= 1 bars, got {train}:{test}")
    if train + test > len(bars):
        raise ValueError(
            f"walk-forward {train}:{test} needs {train + test} bars, there are {len(bars)}"
        )
    rows, pieces, trades = [], [], []
    cash = setup.init_cash
    for start in range(0, len(bars) - train, test):
        cut, end = start + train, min(start + train + test, len(bars))
        chosen = sweep(strategy, bars.iloc[:cut], combos, rules, setup, metric, window=(start, cut))
        best = chosen.best()
        start_cash = cash
        result = run(
            strategy,
            {symbol: bars.iloc[:end]},
            best,
            [rules],
            replace(setup, init_cash=cash, flat_at_end=True),
            window=(cut, end),
        )
        cash = float(result.equity.iloc[-1])
        pieces.append(result.equity)
        trades.append(result.trades)
        rows.append(
            {
                "train_start": bars.index[start],
                "test_start": bars.index[cut],
                "test_end": bars.index[end - 1],
                "start_cash": start_cash,
                **best,
                "in_sample": chosen.table.iloc[0][metric],
                "out_of_sample": result.metrics[metric],
                "carried": result.extra.get("open_at_end", 0),
            }
        )
    equity = pd.concat(pieces)
    all_trades = pd.concat(trades, ignore_index=True)
    stats = np.zeros((1, 5))
    stats[0, 0] = len(all_trades)
    stats[0, 1] = int((all_trades["pnl"] > 0).sum())
    stats[0, 2] = float(all_trades.loc[all_trades["pnl"] > 0, "pnl"].sum())
    stats[0, 3] = -float(all_trades.loc[all_trades["pnl"] <= 0, "pnl"].sum())
    stats[0, 4] = float("nan")
    values = equity.to_numpy().reshape(-1, 1)
    found = m.compute(values, np.array([setup.init_cash]), stats, setup.ann_factor)
    found["exposure"] = np.array([np.nan])  # not tracked across windows
    return WalkForward(pd.DataFrame(rows), equity, m.scalar(found), all_trades)
