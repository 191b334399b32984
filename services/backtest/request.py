"""A backtest request and its execution: what the CLI and the backtests pane both run.

``execute`` loads bars from the store, runs one combination, a sweep, an
out-of-sample check or a walk-forward, and returns a plain dict (the
``--json`` document) so the result crosses a process boundary and is saved
as it is. ``progress(done, total, what)`` is called between steps; raising
from it (the pane's cancel) stops the run between steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, replace
from datetime import date
from typing import Any, cast

import numpy as np
import pandas as pd

from services.accounting.costs import CostConfig
from services.backtest import metrics as m
from services.backtest.engine import RunResult, Setup, SweepResult, rank, run, sweep
from services.backtest.optimize import heatmap, sensitivity, walk_forward
from services.backtest.rules import BacktestConfig, MarketRules, rules_for
from services.backtest.spec import SWEEP_CHUNK, Request, RunDoc
from services.data.exchange_calendar import sessions_per_year
from services.data.symbols import kind_of
from strategies import Strategy

Progress = Callable[[int, int, str], None]


def execute(
    request: Request,
    read_bars: Callable[[str], pd.DataFrame],
    config: BacktestConfig,
    costs: CostConfig,
    progress: Progress | None = None,
    rules: list[MarketRules] | None = None,
) -> RunDoc:
    """Run ``request``; ``read_bars(symbol)`` returns the adjusted bars for the range.

    ``rules``: each symbol's market rules as a saved run recorded them (a rerun);
    by default they come from the config and costs.
    """
    strategy = request.check()
    report = progress or (lambda done, total, what: None)
    if rules is None:
        rules = [rules_for(s, config, costs, request.fees) for s in request.symbols]
    frames = {}
    start = pd.Timestamp(request.start) if request.start else None
    for i, symbol in enumerate(request.symbols):
        report(i, len(request.symbols) + 1, f"loading {symbol}")
        frame = read_bars(symbol)
        traded = len(frame) - (int(frame.index.searchsorted(start)) if start is not None else 0)
        if traded < 2:
            raise ValueError(f"{symbol} has {traded} bars in the range; a backtest needs 2+")
        frames[symbol] = frame
    symbol = request.symbols[0]
    index = _union_index(frames)
    w0 = int(index.searchsorted(start)) if start is not None else 0  # first traded bar
    sessions = _sessions(request.symbols, index[w0].date(), index[-1].date())
    setup = Setup.from_config(config, request.freq, sessions, **request.overrides)
    doc: dict[str, Any] = {
        "strategy": strategy.name,
        "symbol": ",".join(request.symbols),
        "symbols": list(request.symbols),
        "freq": request.freq,
        "adjust": request.adjust,
        "adjusted": {s: request.mode_for(s) for s in request.symbols},  # what auto became
        "start": str(index[w0].date()),
        "end": str(index[-1].date()),
        "warmup_bars": w0,  # bars before the start that the indicators were computed on
        "setup": asdict(setup),
        "request": request.as_doc(),
        "markets": {s: asdict(r) for s, r in zip(request.symbols, rules, strict=True)},
    }
    bars = frames[symbol]
    b0 = int(bars.index.searchsorted(index[w0]))  # the first traded bar of the first symbol
    request.check_grid(config.max_combinations, len(bars) - b0)
    combos = strategy.combinations(request.grid, request.params) if request.grid else None
    split = b0 + _split(len(bars) - b0, request.oos) if request.oos else len(bars)
    if combos is not None:
        chosen = _sweep(
            strategy, symbol, bars, combos, rules[0], setup, request, (b0, split), report
        )
        best = chosen.best()
        doc["sweep"] = [
            {"params": _params(row, strategy), "metrics": m.scalar(row, None)}
            for row in chosen.table.to_dict("records")
        ]
        doc["sensitivity"] = sensitivity(chosen)
        if len(chosen.axes) == 2:
            doc["heatmap"] = _heatmap(chosen)
    else:
        best = strategy.params(request.params)
    report(1, 2, "final run")
    # a portfolio's bars are the union of its symbols'; a single symbol's are its own
    in_sample = (b0, split) if request.oos else (w0, len(index))
    doc.update(_result(run(strategy, frames, best, rules, setup, window=in_sample)))
    if request.oos:  # the parameters were chosen on the in-sample bars only
        oos = run(strategy, frames, best, rules, setup, window=(split, len(bars)))
        doc["oos"] = {"start": str(bars.index[split].date()), **_result(oos)}
    if request.walk_forward:
        train, test = request.walk_forward
        report(0, 1, "walk-forward")
        wf = walk_forward(  # its windows warm up on the bars before each test window
            strategy,
            symbol,
            bars.iloc[b0:],
            combos or [best],
            rules[0],
            setup,
            train,
            test,
            request.metric,
        )
        doc["walk_forward"] = {
            "train": train,
            "test": test,
            "windows": _records(wf.windows),
            "metrics": wf.metrics,
            "equity": _series(wf.equity),
            "trades": _records(wf.trades),
        }
    report(1, 1, "done")
    return cast(RunDoc, doc)


def _sessions(symbols: tuple[str, ...], first: date, last: date) -> float:
    """Trading days a year of the run's market: the exchanges' sessions for A-shares (over
    the years traded), 252 for anything else or a mix."""
    if all(kind_of(s) in ("stock", "etf", "index") for s in symbols):
        return sessions_per_year(first, last)
    return 252.0


def _union_index(frames: Mapping[str, pd.DataFrame]) -> pd.DatetimeIndex:
    """The bars of a run: one symbol's own, or the union of a portfolio's (as the engine's
    panel aligns them)."""
    index = next(iter(frames.values())).index
    for frame in frames.values():
        if not frame.index.equals(index):
            index = index.union(frame.index)
    return pd.DatetimeIndex(index)


def _split(bars: int, fraction: float) -> int:
    """The first out-of-sample bar for an out-of-sample ``fraction``."""
    if not 0 < fraction < 1:
        raise ValueError(f"--oos is the out-of-sample fraction, 0 < f < 1, got {fraction}")
    split = round(bars * (1 - fraction))
    if split < 2 or bars - split < 2:
        raise ValueError(
            f"--oos {fraction} leaves {split} in-sample and {bars - split} "
            "out-of-sample bars; need at least 2 of each"
        )
    return split


def _sweep(
    strategy: Strategy,
    symbol: str,
    bars: pd.DataFrame,
    combos: list[dict[str, float]],
    rules: Any,
    setup: Setup,
    request: Request,
    window: tuple[int, int],
    report: Progress,
) -> SweepResult:
    """The sweep in chunks of columns, so progress moves and cancel can land between them.
    Signals are computed on every bar up to the window's end; trades fall in ``window``."""
    in_sample = bars.iloc[: window[1]]
    parts = []
    for lo in range(0, len(combos), SWEEP_CHUNK):
        report(lo, len(combos), f"sweep {lo}/{len(combos)} combinations")
        chunk = combos[lo : lo + SWEEP_CHUNK]
        parts.append(
            sweep(strategy, in_sample, chunk, rules, setup, request.metric, window, symbol=symbol)
        )
    if len(parts) == 1:
        return parts[0]
    table = pd.concat([p.table for p in parts], ignore_index=True)
    axes = sorted({a for p in parts for a in p.axes}, key=list(strategy.defaults).index)
    return replace(parts[0], table=rank(table, request.metric), axes=axes)


def _result(result: RunResult) -> dict[str, Any]:
    return {
        "params": result.params,
        "metrics": result.metrics,
        "trades": _records(result.trades.drop(columns=["symbol"]))
        if len(result.symbols) == 1
        else _records(result.trades),
        "equity": _series(result.equity),
        "drawdown": _series(result.drawdown),
        "dividends": result.extra.get("dividends", []),  # pit runs: what the account received
    }


def _params(row: Mapping[str, Any], strategy: Strategy) -> dict[str, float]:
    return {k: float(row[k]) for k in strategy.defaults}


def _heatmap(chosen: SweepResult) -> dict[str, Any]:
    grid = heatmap(chosen)
    return {
        "metric": chosen.metric,
        "rows": {"name": chosen.axes[0], "values": [float(v) for v in grid.index]},
        "columns": {"name": chosen.axes[1], "values": [float(v) for v in grid.columns]},
        "values": [
            [None if not np.isfinite(v) else round(float(v), 6) for v in row]
            for row in grid.to_numpy()
        ],
    }


def _series(series: pd.Series) -> dict[str, list[Any]]:
    return {
        "time": [t.isoformat() for t in pd.DatetimeIndex(series.index)],
        "value": [round(float(v), 6) for v in series.to_numpy()],
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame.to_dict("records"):
        clean: dict[str, Any] = {}
        for k, v in row.items():
            if isinstance(v, pd.Timestamp):
                clean[k] = v.isoformat()
            elif isinstance(v, float | np.floating):
                clean[k] = round(float(v), 6) if np.isfinite(v) else None
            elif isinstance(v, np.integer):
                clean[k] = int(v)
            else:
                clean[k] = v
        out.append(clean)
    return out
