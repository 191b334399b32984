"""The strategy interface: a name, default parameters, a grid, and a pure signal function.

A signal function takes OHLCV bars (a DataFrame with at least ``open high low
close``, ascending DatetimeIndex) and parameters, and returns boolean entry
and exit series on the same index. Row t may use bars up to t only (tests
check that appending future bars never changes past signals), so the same
function serves the vectorbt backtest and the live runner, which acts on the
last row. By convention a signal on bar t's close is executed at bar t+1's
open; that is the engine's job, not the strategy's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

Params = Mapping[str, float]


@dataclass(frozen=True)
class Signals:
    entries: pd.Series  # bool: open (or hold) a long position after this bar
    exits: pd.Series  # bool: close it after this bar


@dataclass(frozen=True)
class Strategy:
    name: str
    rule: str  # the rule in one paragraph
    defaults: Mapping[str, float]
    grid: Mapping[str, Sequence[float]]
    signal: Callable[[pd.DataFrame, Params], Signals]
    checks: Callable[[Params], None] = field(default=lambda p: None)

    def params(self, overrides: Params | None = None) -> dict[str, float]:
        """Defaults with ``overrides`` applied; unknown names and bad values raise ValueError."""
        merged = dict(self.defaults)
        for key, value in (overrides or {}).items():
            if key not in self.defaults:
                raise ValueError(
                    f"{self.name} has no parameter {key!r}; it takes "
                    f"{', '.join(sorted(self.defaults))}"
                )
            merged[key] = value
        self.checks(merged)
        return merged

    def run(self, bars: pd.DataFrame, overrides: Params | None = None) -> Signals:
        missing = {"open", "high", "low", "close"} - set(bars.columns)
        if missing:
            raise ValueError(f"bars lack columns {sorted(missing)}")
        return self.signal(bars, self.params(overrides))


def crossed_above(a: pd.Series, b: pd.Series | float) -> pd.Series:
    """a > b on this bar and a <= b on the previous one (NaN never crosses)."""
    prev_a = a.shift(1)
    prev_b = b.shift(1) if isinstance(b, pd.Series) else b
    result: pd.Series = (a > b) & (prev_a <= prev_b)
    return result.fillna(False).astype(bool)


def crossed_below(a: pd.Series, b: pd.Series | float) -> pd.Series:
    """a < b on this bar and a >= b on the previous one."""
    prev_a = a.shift(1)
    prev_b = b.shift(1) if isinstance(b, pd.Series) else b
    result: pd.Series = (a < b) & (prev_a >= prev_b)
    return result.fillna(False).astype(bool)


def positive_int(params: Params, *names: str) -> None:
    for name in names:
        value = params[name]
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, got {value}")
