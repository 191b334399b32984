"""RSI reversion (``rsi``).

Rule: the relative strength index over ``window`` bars uses Wilder's
smoothing (an exponential average with alpha = 1/window of gains and of
losses). Go long when the RSI crosses below ``lower`` (oversold: RSI < lower
on this bar, >= lower on the previous one); close the position when it
crosses above ``upper``.
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


def rsi(close: pd.Series, window: int) -> pd.Series:
    delta = close.diff()
    gain = delta.clip(lower=0).ewm(alpha=1 / window, adjust=False, min_periods=window).mean()
    loss = (-delta.clip(upper=0)).ewm(alpha=1 / window, adjust=False, min_periods=window).mean()
    value: pd.Series = 100 - 100 / (1 + gain / loss)
    return value.where(loss != 0, 100.0).where(gain.notna())


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
