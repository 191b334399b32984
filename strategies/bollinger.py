"""Bollinger-band mean reversion (``bollinger``).

Rule: the bands are the ``window``-bar simple moving average of the close
plus and minus ``k`` standard deviations (population). Go long when the close
crosses below the lower band (close < lower on this bar, close >= lower on
the previous one); close the position when the close crosses back above the
middle band.
Parameters: ``window`` (default 20), ``k`` (default 2.0, > 0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from strategies.base import (
    Grid,
    Params,
    Strategy,
    by_value,
    column,
    crossed_above,
    crossed_below,
    positive_int,
)


def _checks(p: Params) -> None:
    positive_int(p, "window")
    if p["window"] < 2:
        raise ValueError("window must be at least 2 (a standard deviation needs two bars)")
    if p["k"] <= 0:
        raise ValueError(f"k must be > 0, got {p['k']:g}")


def signal(bars: pd.DataFrame, p: Grid) -> tuple[np.ndarray, np.ndarray]:
    close = bars["close"]
    mid = by_value(p["window"], lambda w: close.rolling(w).mean().to_numpy())
    std = by_value(p["window"], lambda w: close.rolling(w).std(ddof=0).to_numpy())
    lower = mid - p["k"] * std
    price = column(bars, "close")
    return crossed_below(price, lower), crossed_above(price, mid)


STRATEGY = Strategy(
    name="bollinger",
    rule=__doc__.split("\n\n")[1].replace("\n", " ") if __doc__ else "",
    defaults={"window": 20, "k": 2.0},
    grid={"window": list(range(10, 60, 5)), "k": [1.0, 1.5, 2.0, 2.5, 3.0]},
    signal=signal,
    checks=_checks,
    describe=lambda p, side: (
        f"close crossed below the lower band (MA {p['window']:g} - {p['k']:g} sd)"
        if side == "buy"
        else f"close crossed back above the {p['window']:g}-bar middle band"
    ),
)
