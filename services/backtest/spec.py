"""What a backtest is asked to do, and the names the engine shares: light to import.

The console imports this (the backtests screen builds a ``Request``) without
pulling in numba or vectorbt, which load only in the worker process or the CLI.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NotRequired, TypedDict

from services.data.symbols import is_a_share, split_symbol
from strategies import Strategy, get

SIZE_QUANTITY, SIZE_NOTIONAL, SIZE_PERCENT = 0, 1, 2
SIZE_MODES = {"quantity": SIZE_QUANTITY, "notional": SIZE_NOTIONAL, "percent": SIZE_PERCENT}
STAT_TRADES, STAT_WINS, STAT_PROFIT, STAT_LOSS, STAT_HELD = 0, 1, 2, 3, 4
N_STATS = 5

ADJUST_MODES = ("auto", "pit", "qfq", "hfq", "none")  # a backtest's --adjust
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


class Curve(TypedDict):
    """A time series in a run document: ISO times and rounded values."""

    time: list[str]
    value: list[float]


class RunDoc(TypedDict):
    """One backtest, as the engine returns it, the CLI prints it (``--json``), saved runs
    keep it and the screen and the HTML report show it. JSON-ready throughout."""

    strategy: str
    symbol: str  # the symbols joined by commas
    symbols: list[str]
    freq: str
    adjust: str
    start: str  # the first traded bar
    end: str
    warmup_bars: NotRequired[int]  # earlier bars the indicators were computed on first
    setup: dict[str, Any]  # engine.Setup as a dict
    request: dict[str, Any]  # Request.as_doc(): what ``runs rerun`` repeats
    markets: dict[str, dict[str, Any]]  # per symbol: rules.MarketRules as a dict
    params: dict[str, float]
    metrics: dict[str, float | None]  # NAMES; None where a metric does not exist
    trades: list[dict[str, Any]]
    equity: Curve
    drawdown: Curve
    sweep: NotRequired[list[dict[str, Any]]]  # every combination, best first
    sensitivity: NotRequired[dict[str, Any]]
    heatmap: NotRequired[dict[str, Any]]  # a two-parameter sweep
    oos: NotRequired[dict[str, Any]]  # out-of-sample start, metrics, trades
    walk_forward: NotRequired[dict[str, Any]]
    snapshot: NotRequired[str]  # the store snapshot the run read (saved runs)
    adjusted: NotRequired[dict[str, str]]  # symbol -> pit, qfq, hfq or none (auto resolved)
    dividends: NotRequired[list[dict[str, Any]]]  # pit runs: each dividend received
    code_version: NotRequired[dict[str, str]]
    run_id: NotRequired[int]
    created: NotRequired[str]  # when it was saved


@dataclass(frozen=True)
class Request:
    strategy: str
    symbols: tuple[str, ...]
    start: date | None = None
    end: date | None = None
    adjust: str = "auto"  # see ADJUST_MODES and mode_for
    freq: str = "1d"
    params: Mapping[str, float] = field(default_factory=dict)
    grid: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    metric: str = "sharpe"
    fees: float | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)  # Setup fields: init_cash, ...
    oos: float | None = None
    walk_forward: tuple[int, int] | None = None
    large_grid: bool = False  # the trader confirmed a sweep above [backtest] max_combinations
    as_of: str | None = None  # an ArcticDB snapshot to read instead of the latest data

    def mode_for(self, symbol: str) -> str:
        """How ``symbol``'s prices are taken: ``auto`` is point-in-time (pit) for A-shares,
        whose dividends and bonus shares the sources record, and qfq elsewhere."""
        if self.adjust != "auto":
            return self.adjust
        return "pit" if is_a_share(symbol) else "qfq"

    def read_bars(self, store: Any, symbol: str) -> Any:
        """``symbol``'s bars for this request from the store (frequency, adjustment, up to
        ``end``), as they were in the snapshot ``as_of`` when one is named. Bars before
        ``start`` are included: indicators warm up on them and trading starts at ``start``
        (``execute`` says how many were used). A pit frame also carries the raw prices
        orders fill at and the corporate actions (Store.read_pit)."""
        mode = self.mode_for(symbol)
        if mode == "pit":
            return store.read_pit(symbol, self.freq, self.end, as_of=self.as_of)
        return store.read_bars(symbol, self.freq, None, self.end, mode, as_of=self.as_of)

    def as_doc(self) -> dict[str, Any]:
        """The request as JSON, kept in a saved run so that ``runs rerun`` repeats it."""
        return {
            "strategy": self.strategy,
            "symbols": list(self.symbols),
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "adjust": self.adjust,
            "freq": self.freq,
            "params": dict(self.params),
            "grid": {k: list(v) for k, v in self.grid.items()},
            "metric": self.metric,
            "fees": self.fees,
            "overrides": dict(self.overrides),
            "oos": self.oos,
            "walk_forward": list(self.walk_forward) if self.walk_forward else None,
            "as_of": self.as_of,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Request:
        """The request :meth:`as_doc` wrote."""
        return cls(
            strategy=doc["strategy"],
            symbols=tuple(doc["symbols"]),
            start=date.fromisoformat(doc["start"]) if doc["start"] else None,
            end=date.fromisoformat(doc["end"]) if doc["end"] else None,
            adjust=doc["adjust"],
            freq=doc["freq"],
            params=dict(doc["params"]),
            grid={k: tuple(v) for k, v in doc["grid"].items()},
            metric=doc["metric"],
            fees=doc["fees"],
            overrides=dict(doc["overrides"]),
            oos=doc["oos"],
            walk_forward=tuple(doc["walk_forward"]) if doc["walk_forward"] else None,
            large_grid=True,  # it ran once: no second confirmation
            as_of=doc.get("as_of"),
        )

    def grid_size(self) -> int:
        """Combinations the grid spans before invalid ones are left out (cheap: no list)."""
        return math.prod(len(v) for v in self.grid.values()) if self.grid else 1

    def check_grid(self, limit: int, bars: int | None = None) -> None:
        """Refuse a sweep above ``limit`` combinations unless confirmed, saying how many
        and roughly how much memory it needs (with ``bars`` known)."""
        n = self.grid_size()
        if n <= limit or self.large_grid:
            return
        need = f" and about {memory_needed(n, bars) / 2**20:,.0f} MiB of memory" if bars else ""
        raise ValueError(
            f"the grid spans {n:,} combinations{need}, above [backtest] max_combinations "
            f"({limit:,}): narrow it, or confirm with --large-grid"
        )

    def check(self) -> Strategy:
        """The strategy, after every field is checked; ValueError says what is wrong."""
        strategy = get(self.strategy)
        if not self.symbols:
            raise ValueError("name at least one symbol (--symbol 600519.SSE)")
        for symbol in self.symbols:
            split_symbol(symbol)
        if self.adjust not in ADJUST_MODES:
            raise ValueError(
                f"--adjust must be one of {', '.join(ADJUST_MODES)}, got {self.adjust!r}"
            )
        if self.metric not in NAMES:
            raise ValueError(f"unknown metric {self.metric!r}: choose one of {', '.join(NAMES)}")
        for name, value in (("--fees", self.fees), ("--oos", self.oos)):
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name}: expected a finite number >= 0, got {value}")
        if self.walk_forward is not None and min(self.walk_forward) < 2:
            raise ValueError(
                f"--walk-forward: TRAIN and TEST are 2 bars or more, got {self.walk_forward}"
            )
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"--start {self.start} is after --end {self.end}")
        if len(self.symbols) > 1 and (self.grid or self.oos or self.walk_forward):
            raise ValueError(
                "sweeps, --oos and --walk-forward run on one symbol; "
                "several symbols make a portfolio with fixed --param values"
            )
        strategy.params(self.params)
        unknown = [key for key in self.grid if key not in strategy.defaults]
        if unknown:
            strategy.params({unknown[0]: 0.0})  # raises "has no parameter ..., it takes ..."
        return strategy


def prices_line(doc: Mapping[str, Any], short: bool = False) -> str:
    """How the run took prices and what corporate actions paid, for the CLI and the report:
    ``prices: pit for 600519.SSE; dividends 4 payments, 1,234.00 net (tax 123.40)``;
    ``short`` for a border: ``pit · 4 dividends, 1,234 net``."""
    modes: dict[str, list[str]] = {}
    for symbol, mode in doc.get("adjusted", {}).items():
        modes.setdefault(mode, []).append(symbol)
    paid = doc.get("dividends", [])
    net = sum(d["net"] for d in paid)
    if short:
        return "/".join(modes) + (f" · {len(paid)} dividends, {net:,.0f} net" if paid else "")
    text = "prices: " + "; ".join(f"{m} for {', '.join(s)}" for m, s in modes.items())
    if "pit" in modes:
        tax = sum(d["tax"] for d in paid)
        text += (
            f"; dividends {len(paid)} payments, {net:,.2f} net (tax {tax:,.2f})"
            if paid
            else "; no dividends fell in the holding periods"
        )
    return text


SWEEP_CHUNK = 1024  # columns per kernel call: progress moves, cancel lands, memory is capped


def memory_needed(combinations: int, bars: int) -> int:
    """Bytes a sweep adds at its peak, measured on ORCL (5,036 bars): one chunk of columns
    in the kernel (signals and about four float64 arrays per bar and column) plus about
    2 KB per combination for its parameters, metrics row and JSON entry."""
    return min(combinations, SWEEP_CHUNK) * bars * (2 + 4 * 8) + combinations * 2048


MAX_AXIS = 100_000  # values in one --grid axis


def finite(text: str, what: str) -> float:
    """A finite number from ``text``; ValueError naming ``what`` (inf, nan: refused)."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what}: expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{what}: expected a finite number, got {text!r}")
    return value


def parse_pair(text: str, flag: str) -> tuple[str, float]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"{flag} expects K=V, got {text!r}")
    return key.strip(), finite(value, f"{flag} {key}")


def parse_axis(text: str) -> tuple[str, tuple[float, ...]]:
    """``fast=2:100:1`` (inclusive) or ``k=1.5,2,2.5`` into a parameter's values."""
    key, sep, spec = text.partition("=")
    if not sep or not key:
        raise ValueError(f"--grid expects K=START:STOP:STEP or K=a,b,c, got {text!r}")
    try:
        if ":" in spec:
            parts = [finite(p, f"--grid {key}") for p in spec.split(":")]
            if len(parts) != 3 or parts[2] <= 0 or parts[1] < parts[0]:
                raise ValueError
            start, stop, step = parts
            count = round((stop - start) / step) + 1
            if count > MAX_AXIS:  # counted before a single value is made
                raise OverflowError(count)
            values = tuple(
                round(start + i * step, 10) for i in range(count) if start + i * step <= stop + 1e-9
            )
        else:
            values = tuple(finite(v, f"--grid {key}") for v in spec.split(","))
    except OverflowError as exc:
        raise ValueError(
            f"--grid {key}: {spec!r} spans {exc.args[0]:,.0f} values, above {MAX_AXIS:,} "
            "for one parameter: use a larger step"
        ) from None
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
