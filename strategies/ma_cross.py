"""Moving-average crossover (``ma_cross``).

Rule: go long when the simple moving average of the close over ``fast`` bars
crosses above the one over ``slow`` bars (fast > slow on this bar, fast <=
slow on the previous one); close the position on the opposite crossing
(fast < slow on this bar, fast >= slow on the previous one).
Parameters: ``fast`` (default 10), ``slow`` (default 30), ``fast < slow``.
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
    positive_int(p, "fast", "slow")
    if p["fast"] >= p["slow"]:
        raise ValueError(f"fast ({p['fast']:g}) must be shorter than slow ({p['slow']:g})")


def signal(bars: pd.DataFrame, p: Grid) -> tuple[np.ndarray, np.ndarray]:
    close = bars["close"]

    def sma(window: int) -> np.ndarray:
        values: np.ndarray = close.rolling(window).mean().to_numpy()
        return values

    fast, slow = by_value(p["fast"], sma), by_value(p["slow"], sma)
    return crossed_above(fast, slow), crossed_below(fast, slow)


STRATEGY = Strategy(
    name="ma_cross",
    rule=__doc__.split("\n\n")[1].replace("\n", " ") if __doc__ else "",
    defaults={"fast": 10, "slow": 30},
    grid={"fast": list(range(5, 30, 5)), "slow": list(range(20, 120, 10))},
    signal=signal,
    checks=_checks,
    describe=lambda p, side: (
        f"MA({p['fast']:g}) crossed {'above' if side == 'buy' else 'below'} MA({p['slow']:g})"
    ),
)
