"""Research from Jupyter (or any Python): the console's store and backtest engine, with
pandas in and out and plotly figures.

    from services.research import Research
    r = Research()                                   # $QUANTDESK_DATA_DIR or the default
    bars = r.bars("600519.SSE", adjust="qfq")        # one symbol, any adjustment
    closes = r.universe(["600519.SSE", "000858.SZSE"])   # dates x symbols, one batched read
    run = r.backtest("ma_cross", "600519.SSE", params={"fast": 10, "slow": 30})
    run.metrics, run.trades, run.equity, run.drawdown    # pandas objects
    sweep = r.sweep("ma_cross", "600519.SSE", {"fast": range(5, 30, 5), "slow": range(20, 120, 10)})
    r.plot_equity(run); r.plot_heatmap(sweep)        # plotly figures
    r.save(run)                                      # shows in the console's saved runs

Nothing here differs from what ``quantdesk backtest`` runs: the same ``Request``,
``execute`` and store; a saved run carries the same provenance (snapshot, code version).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from services.accounting.costs import CostConfig
from services.backtest.rules import FLAGS, BacktestConfig
from services.backtest.spec import Curve, Request, RunDoc
from services.config import load_settings, resolve_config_path
from services.ops.datadir import check_usable, resolve_data_dir
from services.store import Store


@dataclass
class Result:
    """One backtest as pandas objects; ``doc`` is the whole run (what ``save`` keeps)."""

    doc: RunDoc
    metrics: pd.Series = field(init=False)
    trades: pd.DataFrame = field(init=False)
    equity: pd.Series = field(init=False)
    drawdown: pd.Series = field(init=False)
    sweep: pd.DataFrame | None = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = pd.Series(self.doc["metrics"], dtype=float, name="metrics")
        self.trades = pd.DataFrame(self.doc["trades"])
        self.equity = _curve(self.doc["equity"], "equity")
        self.drawdown = _curve(self.doc["drawdown"], "drawdown")
        rows = self.doc.get("sweep")
        self.sweep = pd.DataFrame([{**r["params"], **r["metrics"]} for r in rows]) if rows else None

    @property
    def run_id(self) -> int | None:
        return self.doc.get("run_id")


def _curve(points: Curve, name: str) -> pd.Series:
    """A saved curve (``{"time": [...], "value": [...]}``) as a time series."""
    index = pd.DatetimeIndex(pd.to_datetime(points["time"]), name="datetime")
    return pd.Series(points["value"], index=index, name=name, dtype=float)


class Research:
    """A data directory's store and the backtest engine, for notebooks."""

    def __init__(
        self,
        data_dir: str | Path | None = None,
        store: str = "",
        backtest: BacktestConfig | None = None,
        costs: CostConfig | None = None,
        config: str | Path | None = None,
    ) -> None:
        """The data directory's store and settings: its config file (``config``, else
        $QUANTDESK_CONFIG, else ``<data dir>/config.toml``) read as ``quantdesk backtest``
        reads it -- costs, [backtest], the store's URI -- unless given here."""
        self.data_dir = resolve_data_dir(str(data_dir) if data_dir else None)
        check_usable(self.data_dir)
        self.settings = load_settings(
            resolve_config_path(str(config) if config else None, self.data_dir)
        )
        self.config = backtest or self.settings.backtest
        self.costs = costs or self.settings.costs
        self.store = Store.of(self.data_dir, store or self.settings.store.uri)
        self.store.open()

    # -- data -------------------------------------------------------------------------------
    def bars(
        self,
        symbol: str,
        freq: str = "1d",
        start: date | str | None = None,
        end: date | str | None = None,
        adjust: str = "qfq",
    ) -> pd.DataFrame:
        """Stored bars of one symbol, adjusted on read (none, qfq or hfq)."""
        return self.store.read_bars(symbol, freq, _day(start), _day(end), adjust)

    def universe(
        self, symbols: Iterable[str], field: str = "close", freq: str = "1d", adjust: str = "qfq"
    ) -> pd.DataFrame:
        """One field of many symbols, dates x symbols: daily bars from the panel block in one
        read (see the README's "Universe reads"), minute bars from one batched read."""
        names = list(symbols)
        if freq == "1d":
            return self.store.read_panel(names, (field,), adjust)[field]
        frames = self.store.read_many(names, freq, adjust)
        return pd.DataFrame({s: f[field] for s, f in frames.items()})

    def symbols(self, freq: str = "1d") -> list[str]:
        return sorted(self.store.symbols(freq))

    # -- backtests ----------------------------------------------------------------------------
    def backtest(
        self,
        strategy: str,
        symbols: str | Iterable[str],
        params: Mapping[str, float] | None = None,
        **options: Any,
    ) -> Result:
        """One run (several symbols: a portfolio sharing cash). ``options`` are Request's:
        start, end, adjust, freq, fees, oos, walk_forward, as_of, and Setup overrides
        (init_cash, sizing, size, stop_loss, take_profit, trailing_stop, execute)."""
        return Result(self._execute(strategy, symbols, params=dict(params or {}), **options))

    def sweep(
        self,
        strategy: str,
        symbol: str,
        grid: Mapping[str, Iterable[float]],
        metric: str = "sharpe",
        **options: Any,
    ) -> Result:
        """Every combination of ``grid`` on one symbol; ``Result.sweep`` ranks them."""
        axes = {k: tuple(float(v) for v in values) for k, values in grid.items()}
        return Result(self._execute(strategy, symbol, grid=axes, metric=metric, **options))

    def save(self, result: Result) -> int:
        """Keep a run in the data directory's saved runs (the console lists it)."""
        from services.backtest.runs import RunStore, provenance, stamp

        request = Request.from_doc(result.doc["request"])
        stamp(result.doc, provenance(self.store, request.freq, request.strategy, request.as_of))
        run_id = RunStore(self.data_dir / "backtests.db").save(result.doc)
        result.doc["run_id"] = run_id
        return run_id

    def _execute(self, strategy: str, symbols: str | Iterable[str], **kwargs: Any) -> RunDoc:
        from services.backtest.cache import enable_numba_cache, ensure_warm
        from services.backtest.request import execute
        from services.backtest.rules import checked_overrides

        cache = enable_numba_cache(self.data_dir)
        overrides = {k: kwargs.pop(k) for k in list(kwargs) if k in FLAGS}  # Setup's overrides
        names = (symbols,) if isinstance(symbols, str) else tuple(symbols)
        for key in ("start", "end"):
            kwargs[key] = _day(kwargs.get(key))
        request = Request(strategy, names, overrides=overrides, **kwargs)
        request.check()
        checked_overrides(self.config, request.overrides)
        frames = {s: request.read_bars(self.store, s) for s in names}
        ensure_warm(cache, lambda what: print(f"quantdesk: {what}…", file=sys.stderr))
        return execute(request, frames.__getitem__, self.config, self.costs)

    # -- plots ----------------------------------------------------------------------------------
    def plot_equity(self, result: Result) -> Any:
        """Equity over time (a plotly Figure)."""
        import plotly.graph_objects as go

        fig = go.Figure(go.Scatter(x=result.equity.index, y=result.equity, name="equity"))
        return fig.update_layout(title=f"{result.doc['strategy']} {result.doc['symbol']}: equity")

    def plot_drawdown(self, result: Result) -> Any:
        import plotly.graph_objects as go

        fig = go.Figure(
            go.Scatter(x=result.drawdown.index, y=result.drawdown, fill="tozeroy", name="drawdown")
        )
        return fig.update_layout(title=f"{result.doc['strategy']} {result.doc['symbol']}: drawdown")

    def plot_heatmap(self, result: Result) -> Any:
        """The sweep's metric over its two varying parameters."""
        import plotly.graph_objects as go

        heat = result.doc.get("heatmap")
        if not heat:
            raise ValueError("a heatmap needs a sweep over exactly two parameters")
        fig = go.Figure(
            go.Heatmap(z=heat["values"], x=heat["columns"]["values"], y=heat["rows"]["values"])
        )
        return fig.update_layout(
            title=f"{result.doc['strategy']}: {heat['metric']}",
            xaxis_title=heat["columns"]["name"],
            yaxis_title=heat["rows"]["name"],
        )


def _day(value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)
