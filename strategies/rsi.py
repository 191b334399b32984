"""RSI reversion (``rsi``).

Rule: the relative strength index over ``window`` bars uses Wilder's
smoothing, seeded as Wilder did (the simple average of the first ``window``
gains and losses, then an exponential average with alpha = 1/window), as
TA-Lib and backtrader compute it. Go long when the RSI crosses below
``lower`` (oversold: RSI < lower on this bar, >= lower on the previous one);
close the position when it crosses above ``upper``.
Parameters: ``window`` (default 14), ``lower`` (default 30), ``upper``
(default 70), 0 < lower < upper < 100.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from strategies.base import (
    Grid,
    Params,
    Strategy,
    by_value,
    crossed_above,
    crossed_below,
    positive_int,
)


def _checks(p: Params) -> None:
    positive_int(p, "window")
    if not 0 < p["lower"] < p["upper"] < 100:
        raise ValueError(f"need 0 < lower < upper < 100, got {p['lower']:g} and {p['upper']:g}")


def wilder(changes: pd.Series, window: int) -> pd.Series:
    """Wilder's average of ``changes`` (one per bar; the first is NaN): seeded with the
    simple mean of the first ``window`` changes, then ``avg = (avg * (n-1) + x) / n``.
    The first value is at position ``window``, as in Wilder's book, TA-Lib and
    backtrader."""
    out = pd.Series(np.nan, index=changes.index)
    if len(changes) <= window:
        return out
    seeded = changes.iloc[window:].copy()
    seeded.iloc[0] = changes.iloc[1 : window + 1].mean()
    out.iloc[window:] = seeded.ewm(alpha=1 / window, adjust=False).mean().to_numpy()
    return out


def rsi(close: pd.Series, window: int) -> pd.Series:
    """Wilder's RSI (what TA-Lib's ``RSI`` gives; a test checks it on real bars). Bars
    without a close (suspended) are skipped, and the RSI carries over them."""
    valid = close.dropna()
    delta = valid.diff()
    gain = wilder(delta.clip(lower=0), window)
    loss = wilder(-delta.clip(upper=0), window)
    value: pd.Series = 100 - 100 / (1 + gain / loss)
    value = value.where(loss != 0, 100.0).where(gain.notna())
    return value.reindex(close.index).ffill()


def signal(bars: pd.DataFrame, p: Grid) -> tuple[np.ndarray, np.ndarray]:
    close = bars["close"]
    value = by_value(p["window"], lambda w: rsi(close, w).to_numpy())
    return crossed_below(value, p["lower"]), crossed_above(value, p["upper"])


STRATEGY = Strategy(
    name="rsi",
    rule=__doc__.split("\n\n")[1].replace("\n", " ") if __doc__ else "",
    defaults={"window": 14, "lower": 30, "upper": 70},
    grid={"window": [7, 10, 14, 21, 28], "lower": [20, 25, 30, 35], "upper": [65, 70, 75, 80]},
    signal=signal,
    checks=_checks,
    describe=lambda p, side: (
        f"RSI({p['window']:g}) crossed below {p['lower']:g}"
        if side == "buy"
        else f"RSI({p['window']:g}) crossed above {p['upper']:g}"
    ),
)
