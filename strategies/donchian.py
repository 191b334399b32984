"""Donchian breakout (``donchian``).

Rule: go long when the close rises above the highest high of the previous
``window`` bars (the current bar excluded); close the position when the close
falls below the lowest low of the previous ``exit_window`` bars.
Parameters: ``window`` (default 20), ``exit_window`` (default 10).
"""

from __future__ import annotations

import pandas as pd

from strategies.base import Params, Signals, Strategy, positive_int


def _checks(p: Params) -> None:
    positive_int(p, "window", "exit_window")


def signal(bars: pd.DataFrame, p: Params) -> Signals:
    upper = bars["high"].rolling(int(p["window"])).max().shift(1)
    lower = bars["low"].rolling(int(p["exit_window"])).min().shift(1)
    close = bars["close"]
    entries = (close > upper).fillna(False).astype(bool)
    exits = (close < lower).fillna(False).astype(bool)
    return Signals(entries, exits)


STRATEGY = Strategy(
    name="donchian",
    rule=__doc__.split("\n\n")[1].replace("\n", " ") if __doc__ else "",
    defaults={"window": 20, "exit_window": 10},
    grid={"window": [10, 20, 40, 55], "exit_window": [5, 10, 20]},
    signal=signal,
    checks=_checks,
)
