"""Bollinger-band mean reversion (``bollinger``).

Rule: the bands are the ``window``-bar simple moving average of the close
plus and minus ``k`` standard deviations (population). Go long when the close
crosses below the lower band (close < lower on this bar, close >= lower on
the previous one); close the position when the close crosses back above the
middle band.
Parameters: ``window`` (default 20), ``k`` (default 2.0, > 0).
"""

from __future__ import annotations

import pandas as pd

from strategies.base import Params, Signals, Strategy, crossed_above, crossed_below, positive_int


def _checks(p: Params) -> None:
    positive_int(p, "window")
    if p["window"] < 2:
        raise ValueError("window must be at least 2 (a standard deviation needs two bars)")
    if p["k"] <= 0:
        raise ValueError(f"k must be > 0, got {p['k']:g}")


def bands(close: pd.Series, window: int, k: float) -> tuple[pd.Series, pd.Series, pd.Series]:
    mid = close.rolling(window).mean()
    std = close.rolling(window).std(ddof=0)
    return mid - k * std, mid, mid + k * std


def signal(bars: pd.DataFrame, p: Params) -> Signals:
    close = bars["close"]
    lower, mid, _ = bands(close, int(p["window"]), float(p["k"]))
    return Signals(crossed_below(close, lower), crossed_above(close, mid))


STRATEGY = Strategy(
    name="bollinger",
    rule=__doc__.split("\n\n")[1].replace("\n", " ") if __doc__ else "",
    defaults={"window": 20, "k": 2.0},
    grid={"window": list(range(10, 60, 5)), "k": [1.0, 1.5, 2.0, 2.5, 3.0]},
    signal=signal,
    checks=_checks,
)
