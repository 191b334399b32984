"""Donchian breakout (``donchian``).

Rule: go long when the close rises above the highest high of the previous
``window`` bars (the current bar excluded); close the position when the close
falls below the lowest low of the previous ``exit_window`` bars.
Parameters: ``window`` (default 20), ``exit_window`` (default 10).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from strategies.base import Grid, Params, Strategy, by_value, column, positive_int


def _checks(p: Params) -> None:
    positive_int(p, "window", "exit_window")


def signal(bars: pd.DataFrame, p: Grid) -> tuple[np.ndarray, np.ndarray]:
    high, low = bars["high"], bars["low"]
    upper = by_value(p["window"], lambda w: high.rolling(w).max().shift(1).to_numpy())
    lower = by_value(p["exit_window"], lambda w: low.rolling(w).min().shift(1).to_numpy())
    close = column(bars, "close")
    return close > upper, close < lower


STRATEGY = Strategy(
    name="donchian",
    rule=__doc__.split("\n\n")[1].replace("\n", " ") if __doc__ else "",
    defaults={"window": 20, "exit_window": 10},
    grid={"window": [10, 20, 40, 55], "exit_window": [5, 10, 20]},
    signal=signal,
    checks=_checks,
    describe=lambda p, side: (
        f"close broke above the {p['window']:g}-bar high"
        if side == "buy"
        else f"close broke below the {p['exit_window']:g}-bar low"
    ),
)
