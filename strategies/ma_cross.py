"""Moving-average crossover (``ma_cross``).

Rule: go long when the simple moving average of the close over ``fast`` bars
crosses above the one over ``slow`` bars (fast > slow on this bar, fast <=
slow on the previous one); close the position on the opposite crossing
(fast < slow on this bar, fast >= slow on the previous one).
Parameters: ``fast`` (default 10), ``slow`` (default 30), ``fast < slow``.
"""

from __future__ import annotations

import pandas as pd

from strategies.base import Params, Signals, Strategy, crossed_above, crossed_below, positive_int


def _checks(p: Params) -> None:
    positive_int(p, "fast", "slow")
    if p["fast"] >= p["slow"]:
        raise ValueError(f"fast ({p['fast']:g}) must be shorter than slow ({p['slow']:g})")


def signal(bars: pd.DataFrame, p: Params) -> Signals:
    close = bars["close"]
    fast = close.rolling(int(p["fast"])).mean()
    slow = close.rolling(int(p["slow"])).mean()
    return Signals(crossed_above(fast, slow), crossed_below(fast, slow))


STRATEGY = Strategy(
    name="ma_cross",
    rule=__doc__.split("\n\n")[1].replace("\n", " ") if __doc__ else "",
    defaults={"fast": 10, "slow": 30},
    grid={"fast": list(range(5, 30, 5)), "slow": list(range(20, 120, 10))},
    signal=signal,
    checks=_checks,
)
