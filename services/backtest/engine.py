"""Backtests on vectorbt: one symbol, a broadcast parameter sweep, or a portfolio.

Signals come from the strategy's one vectorised function; the numba kernel
(``kernel.py``) fills orders with the market's lots and costs; metrics are
computed for every column at once (``metrics.py``); vectorbt's Portfolio,
built from the kernel's order records, gives the trade list. A sweep of
thousands of combinations is one kernel call over as many columns, never a
Python loop over combinations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from services.backtest import metrics as m
from services.backtest.kernel import simulate_nb
from services.backtest.results import dividends_of, open_at_end, trades_of
from services.backtest.rules import BacktestConfig, MarketRules, checked_overrides
from services.backtest.spec import SIZE_MODES
from strategies import Strategy


@dataclass(frozen=True)
class Setup:
    """Everything about a run except the strategy, its parameters and the data."""

    init_cash: float = 1_000_000.0
    sizing: str = "percent"
    size: float = 1.0
    stop_loss: float = 0.0
    take_profit: float = 0.0
    trailing_stop: float = 0.0
    execute: str = "next_open"
    ann_factor: float = 252.0
    flat_at_end: bool = False  # walk-forward windows: sell at the last bar, trade flat to flat

    @classmethod
    def from_config(
        cls,
        config: BacktestConfig,
        freq: str = "1d",
        sessions: float = 252.0,
        **overrides: Any,
    ) -> Setup:
        """The config's setup with a run's ``overrides``, checked as config.toml's values
        are (``--cash -5`` or ``--size 0`` is refused, never run). ``sessions``: the
        market's trading days a year, used when ``trading_days`` is 0."""
        config = checked_overrides(config, overrides)
        per_day = 1 if freq == "1d" else config.minute_bars_per_day
        days = config.trading_days or sessions
        base = cls(
            init_cash=config.init_cash,
            sizing=config.sizing,
            size=config.size,
            stop_loss=config.stop_loss,
            take_profit=config.take_profit,
            trailing_stop=config.trailing_stop,
            execute=config.execute,
            ann_factor=float(days * per_day),
        )
        return base


@dataclass(frozen=True)
class Panel:
    """Aligned OHLC arrays (bars, symbols) that orders fill at; NaN where a symbol has no
    bar (suspended, unlisted). ``div_cash`` and ``share_ratio``: corporate actions per bar
    (a point-in-time run; zero and one otherwise)."""

    index: pd.DatetimeIndex
    symbols: tuple[str, ...]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    div_cash: np.ndarray
    share_ratio: np.ndarray

    @classmethod
    def of(cls, frames: Mapping[str, pd.DataFrame]) -> Panel:
        """From bar frames; a point-in-time frame (Store.read_pit) fills at its raw
        ``exec_*`` prices and brings its actions, while its signals read the others."""
        if not frames:
            raise ValueError("no bars to backtest")
        index = frames[next(iter(frames))].index
        for frame in frames.values():
            if not frame.index.equals(index):
                index = index.union(frame.index)

        def stack(name: str, fallback: str, fill: float) -> np.ndarray:
            """``name`` (else ``fallback``, else ``fill``) of every frame on the union index;
            ``fill`` where a frame has no bar. No frame has it, nor a fallback: one value
            broadcast (a view, no memory: 120 MB for 3,000 symbols x 10 years)."""
            shape = (len(index), len(frames))
            if not fallback and not any(name in f.columns for f in frames.values()):
                return np.broadcast_to(np.float64(fill), shape)
            columns = []
            for f in frames.values():
                column = name if name in f.columns else fallback
                if column:
                    values = f[column].reindex(index, fill_value=fill)
                    columns.append(values.to_numpy(dtype=float))
                else:
                    columns.append(np.full(len(index), fill))
            return np.column_stack(columns)

        nan = float("nan")
        return cls(
            pd.DatetimeIndex(index),
            tuple(frames),
            open=stack("exec_open", "open", nan),
            high=stack("exec_high", "high", nan),
            low=stack("exec_low", "low", nan),
            close=stack("exec_close", "close", nan),
            div_cash=stack("div_cash", "", 0.0),
            share_ratio=stack("share_ratio", "", 1.0),
        )

    def __len__(self) -> int:
        return len(self.index)

    @property
    def days(self) -> np.ndarray:
        """The calendar day of each bar (days since 1970): T+1 in the kernel."""
        return np.asarray(self.index.normalize().asi8 // 86_400_000_000_000, dtype=np.int64)


@dataclass
class Simulation:
    """The kernel's raw output for one window of bars."""

    index: pd.DatetimeIndex
    orders: np.ndarray  # vectorbt order records
    value: np.ndarray  # (bars, groups)
    metrics: dict[str, np.ndarray]  # metric -> one value per group
    init_cash: float
    # corporate actions received: column, bar, net cash, tax withheld, bonus shares
    events: np.ndarray = field(default_factory=lambda: np.empty((0, 5)))


def simulate(
    panel: Panel,
    entries: np.ndarray,
    exits: np.ndarray,
    rules: Sequence[MarketRules],
    setup: Setup,
    *,
    col_sym: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    window: tuple[int, int] | None = None,
) -> Simulation:
    """Fill the signals' orders over ``window`` (bar positions [start, stop)).

    ``col_sym`` maps each signal column to a panel symbol (default: column i ->
    symbol 0, a sweep); ``groups`` gives the first column of each cash-sharing
    group (default: every column alone).
    """
    from vectorbt.portfolio.enums import order_dt

    start, stop = window or (0, len(panel))
    if not 0 <= start < stop <= len(panel):
        raise ValueError(f"window {start}:{stop} is outside the {len(panel)} bars")
    n_cols = entries.shape[1]
    col_sym = np.zeros(n_cols, dtype=np.int64) if col_sym is None else col_sym.astype(np.int64)
    group_start = np.arange(n_cols, dtype=np.int64) if groups is None else groups.astype(np.int64)
    group_end = np.append(group_start[1:], n_cols).astype(np.int64)
    ent, ex = entries[start:stop], exits[start:stop]
    # the signal of the bar before the window fills at its first bar, as in a longer run
    before = entries[start - 1] if start > 0 else np.zeros(n_cols, dtype=np.bool_)
    cash_div, ratio = panel.div_cash[start:stop], panel.share_ratio[start:stop]
    if cash_div.strides == (0, 0) and ratio.strides == (0, 0):  # no actions: broadcast
        events = 0
    else:
        cash_div, ratio = np.ascontiguousarray(cash_div), np.ascontiguousarray(ratio)
        acts = ((cash_div != 0) | (ratio != 1)).sum(axis=0)[col_sym]  # per column: at most
        events = int(acts.sum()) + int(ent.sum()) + n_cols  # and one tax row per sale
    orders = np.empty(2 * int(ent.sum()) + 2 + n_cols, dtype=order_dt)
    actions = np.empty((events, 5))
    init = np.full(len(group_start), float(setup.init_cash), dtype=np.float64)
    n, value, stats, held, n_events = simulate_nb(
        np.ascontiguousarray(panel.open[start:stop]),
        np.ascontiguousarray(panel.high[start:stop]),
        np.ascontiguousarray(panel.low[start:stop]),
        np.ascontiguousarray(panel.close[start:stop]),
        cash_div,
        ratio,
        np.ascontiguousarray(panel.days[start:stop]),
        np.ascontiguousarray(ent),
        np.ascontiguousarray(ex),
        col_sym,
        group_start,
        group_end,
        init,
        np.array([r.row() for r in rules], dtype=float),
        SIZE_MODES[setup.sizing],
        float(setup.size),
        float(setup.stop_loss),
        float(setup.take_profit),
        float(setup.trailing_stop),
        setup.execute == "next_open",
        orders,
        actions,
        np.ascontiguousarray(before, dtype=np.bool_),
        setup.flat_at_end,
    )
    grouped = stats if groups is None else m.group_stats(stats, group_start, held)
    return Simulation(
        panel.index[start:stop],
        orders[:n],
        value,
        m.compute(value, init, grouped, setup.ann_factor),
        setup.init_cash,
        actions[:n_events],
    )


@dataclass
class RunResult:
    """One backtest: metrics, equity, drawdown and trades."""

    strategy: str
    symbols: list[str]
    params: dict[str, float]
    metrics: dict[str, float | None]
    equity: pd.Series
    trades: pd.DataFrame
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def drawdown(self) -> pd.Series:
        return pd.Series(m.drawdown_of(self.equity.to_numpy()), index=self.equity.index)


def run(
    strategy: Strategy,
    frames: Mapping[str, pd.DataFrame],
    params: Mapping[str, float] | None,
    rules: Sequence[MarketRules],
    setup: Setup,
    window: tuple[int, int] | None = None,
) -> RunResult:
    """One combination on one symbol, or on several symbols sharing cash (a portfolio)."""
    combo = strategy.params(params)
    panel = Panel.of(frames)
    window = window or (0, len(panel))
    # each symbol's signals on its own bars (a rolling window over the union's empty rows
    # skipped signals after a suspension), then placed on the shared index
    columns = [_signals(strategy, frames[s], combo, panel.index) for s in panel.symbols]
    entries = np.column_stack([c[0] for c in columns])
    exits = np.column_stack([c[1] for c in columns])
    n = len(panel.symbols)
    sim = simulate(
        panel,
        entries,
        exits,
        rules,
        setup,
        col_sym=np.arange(n),
        groups=np.array([0]),
        window=window,
    )
    equity = pd.Series(sim.value[:, 0], index=sim.index, name="equity")
    return RunResult(
        strategy.name,
        list(panel.symbols),
        combo,
        m.scalar(sim.metrics),
        equity,
        trades_of(sim, panel, panel.symbols, window),
        {"dividends": dividends_of(sim, panel, window), "open_at_end": open_at_end(sim)},
    )


def _signals(
    strategy: Strategy, frame: pd.DataFrame, combo: Mapping[str, float], index: pd.Index
) -> tuple[np.ndarray, np.ndarray]:
    """Entries and exits of one combination over ``frame``'s own bars, on ``index`` (no
    signal where the symbol has no bar)."""
    entries, exits = strategy.run_grid(frame, [combo])
    if frame.index.equals(index):
        return entries[:, 0], exits[:, 0]
    where = index.get_indexer(frame.index)
    out_e, out_x = np.zeros(len(index), dtype=bool), np.zeros(len(index), dtype=bool)
    out_e[where], out_x[where] = entries[:, 0], exits[:, 0]
    return out_e, out_x


@dataclass
class SweepResult:
    """Every combination's metrics, ranked by ``metric`` (best first)."""

    strategy: str
    symbol: str
    metric: str
    table: pd.DataFrame  # parameter columns, then metric columns; rank order
    axes: list[str]  # the parameters that vary

    def best(self) -> dict[str, float]:
        return {k: float(self.table.iloc[0][k]) for k in self.table.columns if k not in m.NAMES}


def sweep(
    strategy: Strategy,
    bars: pd.DataFrame,
    combos: Sequence[Mapping[str, float]],
    rules: MarketRules,
    setup: Setup,
    metric: str = "sharpe",
    window: tuple[int, int] | None = None,
    symbol: str = "",
) -> SweepResult:
    """All ``combos`` on one symbol in one broadcast kernel call, ranked by ``metric``."""
    if metric not in m.NAMES:
        raise ValueError(f"unknown metric {metric!r}: choose one of {', '.join(m.NAMES)}")
    panel = Panel.of({symbol or "symbol": bars})
    entries, exits = strategy.run_grid(bars, combos)
    sim = simulate(panel, entries, exits, [rules], setup, window=window)
    table = pd.DataFrame(list(combos))
    for name in m.NAMES:
        table[name] = sim.metrics[name]
    axes = [k for k in table.columns[: len(strategy.defaults)] if table[k].nunique() > 1]
    return SweepResult(strategy.name, symbol, metric, rank(table, metric), axes)


def rank(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Best first by ``metric`` (NaN last); ties keep grid order."""
    ascending = metric in m.LOWER_IS_BETTER
    return table.sort_values(
        metric, ascending=ascending, na_position="last", kind="stable", ignore_index=True
    )
