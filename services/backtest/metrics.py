"""Performance metrics, vectorised over many equity curves at once.

Returns are bar-to-bar changes of portfolio value, the first bar measured
against the starting cash. Annualisation uses trading days (252 by default)
times bars per day -- vectorbt's default of 365 calendar days overstates a
stock strategy's annual figures. Definitions follow empyrical (the tests use
empyrical-reloaded as an independent oracle): Sharpe and Sortino with a zero
risk-free rate, sample standard deviation, drawdown from the running peak
(a negative fraction), Calmar = annual return / |max drawdown|.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from services.backtest.spec import (
    LOWER_IS_BETTER,
    NAMES,
    STAT_HELD,
    STAT_LOSS,
    STAT_PROFIT,
    STAT_TRADES,
    STAT_WINS,
)

__all__ = [
    "LOWER_IS_BETTER",
    "NAMES",
    "compute",
    "drawdown_of",
    "group_stats",
    "returns_of",
    "scalar",
]


def returns_of(value: np.ndarray, init_cash: np.ndarray) -> np.ndarray:
    """Bar returns of value curves (bars, n); the first bar against ``init_cash``."""
    prev = np.empty_like(value)
    prev[0] = init_cash
    prev[1:] = value[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        out: np.ndarray = value / prev - 1.0
    return out


def drawdown_of(value: np.ndarray) -> np.ndarray:
    """Drawdown from the running peak, a fraction <= 0."""
    out: np.ndarray = value / np.maximum.accumulate(value, axis=0) - 1.0
    return out


def compute(
    value: np.ndarray, init_cash: np.ndarray, stats: np.ndarray, ann_factor: float
) -> dict[str, np.ndarray]:
    """Every metric in ``NAMES`` for each column of ``value`` (stats: one row per column)."""
    bars = value.shape[0]
    r = returns_of(value, init_cash)
    total = value[-1] / init_cash - 1.0
    years = bars / ann_factor
    with np.errstate(divide="ignore", invalid="ignore"):
        annual = np.where(
            total > -1, np.power(np.maximum(1.0 + total, 0.0), 1.0 / years) - 1.0, -1.0
        )
        mean = r.mean(axis=0)
        std = r.std(axis=0, ddof=1) if bars > 1 else np.full(value.shape[1], np.nan)
        vol = std * np.sqrt(ann_factor)
        sharpe = np.where(std > 0, mean / std * np.sqrt(ann_factor), np.nan)
        downside = np.sqrt(np.mean(np.minimum(r, 0.0) ** 2, axis=0)) * np.sqrt(ann_factor)
        sortino = np.where(downside > 0, mean * ann_factor / downside, np.nan)
        mdd = drawdown_of(value).min(axis=0)
        calmar = np.where(mdd < 0, annual / np.abs(mdd), np.nan)
        trades = stats[:, STAT_TRADES]
        win_rate = np.where(trades > 0, stats[:, STAT_WINS] / trades, np.nan)
        profit_factor = np.where(
            stats[:, STAT_LOSS] > 0, stats[:, STAT_PROFIT] / stats[:, STAT_LOSS], np.nan
        )
    return {
        "total_return": total,
        "annual_return": annual,
        "annual_volatility": vol,
        "sharpe": sharpe,
        "sortino": sortino,
        "max_drawdown": mdd,
        "calmar": calmar,
        "win_rate": win_rate,
        "profit_factor": profit_factor,
        "trades": trades,
        "exposure": stats[:, STAT_HELD] / bars,
    }


def group_stats(stats: np.ndarray, group_start: np.ndarray, group_held: np.ndarray) -> np.ndarray:
    """Per-column stats summed per group (a portfolio's trades are all its symbols')."""
    out: np.ndarray = np.add.reduceat(stats, group_start, axis=0)
    out[:, STAT_HELD] = group_held  # exposure: bars on which the group held anything
    return out


def finite(value: float) -> float | None:
    """A plain float rounded to 10 places, NaN and infinities as None (valid JSON)."""
    v = float(value)
    return round(v, 10) if np.isfinite(v) else None


def scalar(metrics: Mapping[str, Any], i: int | None = 0) -> dict[str, float | None]:
    """One column's metrics as plain floats (``i`` None: ``metrics`` holds one value each)."""
    out = {name: finite(metrics[name] if i is None else metrics[name][i]) for name in NAMES}
    out["trades"] = int(metrics["trades"] if i is None else metrics["trades"][i])
    return out
