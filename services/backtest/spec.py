"""What a backtest is asked to do, and the names the engine shares: light to import.

The console imports this (the backtests screen builds a ``Request``) without
pulling in numba or vectorbt, which load only in the worker process or the CLI.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.data.bars import split_symbol
from strategies import Strategy, get

SIZE_QUANTITY, SIZE_NOTIONAL, SIZE_PERCENT = 0, 1, 2
SIZE_MODES = {"quantity": SIZE_QUANTITY, "notional": SIZE_NOTIONAL, "percent": SIZE_PERCENT}
STAT_TRADES, STAT_WINS, STAT_PROFIT, STAT_LOSS, STAT_HELD = 0, 1, 2, 3, 4
N_STATS = 5

NAMES = (
    "total_return",
    "annual_return",
    "annual_volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "win_rate",
    "profit_factor",
    "trades",
    "exposure",
)
LOWER_IS_BETTER = frozenset({"annual_volatility"})


# Fields shown as percentages wherever a run is shown (screen, CLI, HTML report).
PERCENT_FIELDS = frozenset(
    {
        "total_return",
        "annual_return",
        "annual_volatility",
        "max_drawdown",
        "win_rate",
        "exposure",
        "return",
    }
)


def format_value(name: str, value: Any) -> str:
    """A metric, trade field or parameter of a run as text, the same everywhere."""
    if value is None:
        return "–"
    if name in ("trades", "size"):
        return f"{value:,.0f}"
    if name in ("entry_price", "exit_price", "pnl", "fees"):
        return f"{value:,.2f}"
    if isinstance(value, float):
        if name in PERCENT_FIELDS:
            return f"{value:.2%}"
        if abs(value) >= 1000:
            return f"{value:,.2f}"
        return f"{value:g}" if value.is_integer() else f"{value:.3f}"
    return str(value)


@dataclass(frozen=True)
class Request:
    strategy: str
    symbols: tuple[str, ...]
    start: date | None = None
    end: date | None = None
    adjust: str = "qfq"
    freq: str = "1d"
    params: Mapping[str, float] = field(default_factory=dict)
    grid: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    metric: str = "sharpe"
    fees: float | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)  # Setup fields: init_cash, ...
    oos: float | None = None
    walk_forward: tuple[int, int] | None = None

    def read_bars(self, store: Any, symbol: str) -> Any:
        """``symbol``'s bars for this request from the store (range, frequency, adjustment)."""
        return store.read_bars(symbol, self.freq, self.start, self.end, self.adjust)

    def check(self) -> Strategy:
        """The strategy, after every field is checked; ValueError says what is wrong."""
        strategy = get(self.strategy)
        if not self.symbols:
            raise ValueError("name at least one symbol (--symbol 600519.SSE)")
        for symbol in self.symbols:
            split_symbol(symbol)
        if self.adjust not in ("none", "qfq", "hfq"):
            raise ValueError(f"--adjust must be none, qfq or hfq, got {self.adjust!r}")
        if self.metric not in NAMES:
            raise ValueError(f"unknown metric {self.metric!r}: choose one of {', '.join(NAMES)}")
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"--start {self.start} is after --end {self.end}")
        if len(self.symbols) > 1 and (self.grid or self.oos or self.walk_forward):
            raise ValueError(
                "sweeps, --oos and --walk-forward run on one symbol; "
                "several symbols make a portfolio with fixed --param values"
            )
        strategy.params(self.params)
        if self.grid:
            strategy.combinations(self.grid, self.params)
        return strategy


def parse_pair(text: str, flag: str) -> tuple[str, float]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"{flag} expects K=V, got {text!r}")
    try:
        return key.strip(), float(value)
    except ValueError:
        raise ValueError(f"{flag} {key}: expected a number, got {value!r}") from None


def parse_axis(text: str) -> tuple[str, tuple[float, ...]]:
    """``fast=2:100:1`` (inclusive) or ``k=1.5,2,2.5`` into a parameter's values."""
    key, sep, spec = text.partition("=")
    if not sep or not key:
        raise ValueError(f"--grid expects K=START:STOP:STEP or K=a,b,c, got {text!r}")
    try:
        if ":" in spec:
            parts = [float(p) for p in spec.split(":")]
            if len(parts) != 3 or parts[2] <= 0 or parts[1] < parts[0]:
                raise ValueError
            start, stop, step = parts
            count = round((stop - start) / step) + 1
            values = tuple(
                round(start + i * step, 10) for i in range(count) if start + i * step <= stop + 1e-9
            )
        else:
            values = tuple(float(v) for v in spec.split(","))
    except ValueError:
        raise ValueError(
            f"--grid {key}: expected START:STOP:STEP with STOP >= START and STEP > 0, "
            f"or a,b,c; got {spec!r}"
        ) from None
    return key.strip(), values


def parse_windows(text: str) -> tuple[int, int]:
    train, sep, test = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return int(train), int(test)
    except ValueError:
        raise ValueError(
            f"--walk-forward expects TRAIN:TEST in bars, e.g. 500:125; got {text!r}"
        ) from None


def parse_words(text: str, parse: Callable[[str], tuple[str, Any]]) -> dict[str, Any]:
    """``"fast=10 slow=30"`` (pairs separated by spaces or semicolons) through ``parse``."""
    return dict(parse(word) for word in text.replace(";", " ").split())
