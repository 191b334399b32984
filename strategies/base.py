"""The strategy interface: a name, default parameters, a grid, and a pure signal function.

A signal function takes OHLCV bars (a DataFrame with at least ``open high low
close``, ascending DatetimeIndex) and a parameter *grid* -- each parameter an
array with one value per combination -- and returns boolean entry and exit
arrays of shape (bars, combinations). One combination is a grid of length
one, so the same function serves a single backtest, a broadcast sweep of
thousands of combinations (no Python loop over them) and the live runner,
which acts on the last row.

Row t may use bars up to t only (tests check that appending future bars never
changes past signals). By convention a signal on bar t's close is executed at
bar t+1's open; that is the engine's job, not the strategy's.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

Params = Mapping[str, float]
Grid = Mapping[str, np.ndarray]  # parameter -> one value per combination
SignalFn = Callable[[pd.DataFrame, Grid], tuple[np.ndarray, np.ndarray]]


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
    signal: SignalFn
    checks: Callable[[Params], None] = field(default=lambda p: None)
    describe: Callable[[Params, str], str] = field(default=lambda p, side: f"{side} signal")
    """The signal in words for a trader reviewing the order, e.g. "MA(10) crossed above MA(30)"."""

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

    def combinations(
        self, axes: Mapping[str, Sequence[float]], fixed: Params | None = None
    ) -> list[dict[str, float]]:
        """Every valid combination of ``axes`` (others from ``fixed`` or the defaults).

        Combinations that fail the strategy's checks (``fast >= slow``) are left out;
        none left is an error that says so.
        """
        base = self.params(fixed)
        for name in axes:
            if name not in self.defaults:
                self.params({name: 0})  # raises the "has no parameter" error
        names = list(axes)
        out = []
        for values in itertools.product(*(axes[n] for n in names)):
            combo = {**base, **dict(zip(names, (float(v) for v in values), strict=True))}
            try:
                self.checks(combo)
            except ValueError:
                continue
            out.append(combo)
        if not out:
            raise ValueError(f"no valid {self.name} combination in the grid {dict(axes)}")
        return out

    def run(self, bars: pd.DataFrame, overrides: Params | None = None) -> Signals:
        """Signals for one combination, as boolean Series on the bars' index."""
        params = self.params(overrides)
        entries, exits = self.run_grid(bars, [params])
        return Signals(
            pd.Series(entries[:, 0], index=bars.index, name="entries"),
            pd.Series(exits[:, 0], index=bars.index, name="exits"),
        )

    def run_grid(
        self, bars: pd.DataFrame, combos: Sequence[Mapping[str, float]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Entry and exit arrays of shape (bars, combinations), computed in one pass."""
        missing = {"open", "high", "low", "close"} - set(bars.columns)
        if missing:
            raise ValueError(f"bars lack columns {sorted(missing)}")
        grid = {k: np.array([c[k] for c in combos], dtype=float) for k in self.defaults}
        return self.signal(bars, grid)


def by_value(values: np.ndarray, compute: Callable[[int], np.ndarray]) -> np.ndarray:
    """Columns ``compute(v)`` for each combination's ``v``, computed once per distinct value."""
    unique, index = np.unique(values.astype(np.int64), return_inverse=True)
    table = np.column_stack([compute(int(v)) for v in unique])
    return table[:, index]


def crossed_above(a: np.ndarray, b: np.ndarray | float) -> np.ndarray:
    """a > b on this bar and a <= b on the previous one (NaN never crosses); 2-D arrays."""
    now = a > b
    before = a <= b
    out = np.zeros(now.shape, dtype=bool)
    out[1:] = now[1:] & before[:-1]
    return out


def crossed_below(a: np.ndarray, b: np.ndarray | float) -> np.ndarray:
    """a < b on this bar and a >= b on the previous one."""
    now = a < b
    before = a >= b
    out = np.zeros(now.shape, dtype=bool)
    out[1:] = now[1:] & before[:-1]
    return out


def column(bars: pd.DataFrame, name: str) -> np.ndarray:
    """One price column as a (bars, 1) float array, ready to broadcast over combinations."""
    values: np.ndarray = bars[name].to_numpy(dtype=float)
    return values.reshape(-1, 1)


def positive_int(params: Params, *names: str) -> None:
    for name in names:
        value = params[name]
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, got {value}")
