"""The backtests screen: a form, a run in a separate process with progress and cancel,
the result (metrics, equity and drawdown, trades, heatmap), saved runs and comparison.

Opened with ``B``. The run itself is ``services.backtests`` (a worker process);
this screen only turns the form into a ``Request`` and shows what comes back
over the bus.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Label, ProgressBar, Select, Static

from panes.backtests import EquityChart, HeatmapTable, MetricsTable, RunsTable, TradesTable
from panes.footer import KeyFooter
from panes.keys import bindings
from services.backtest.rules import SIZINGS, BacktestConfig
from services.backtest.runner import BacktestRunner
from services.backtest.runs import compare
from services.backtest.spec import (
    Request,
    RunDoc,
    parse_axis,
    parse_pair,
    parse_words,
)
from services.backtest.spec import format_value as fmt
from services.events import BacktestUpdate
from strategies import REGISTRY

METRICS = (
    "sharpe",
    "sortino",
    "calmar",
    "total_return",
    "annual_return",
    "profit_factor",
    "win_rate",
)
FIELDS = (  # id, label, placeholder
    ("symbols", "Symbols", "600519.SSE (several: a portfolio sharing cash)"),
    ("start", "Start", "YYYY-MM-DD (empty: all history)"),
    ("end", "End", "YYYY-MM-DD"),
    ("params", "Params", "fast=10 slow=30"),
    ("grid", "Grid", "fast=5:30:5 slow=20:120:10 (empty: no sweep)"),
    ("oos", "OOS", "out-of-sample fraction, e.g. 0.3"),
    ("fees", "Fees", "commission rate (empty: [costs])"),
    ("cash", "Cash", ""),
    ("size", "Size", "1.0 = all equity"),
    ("stop_loss", "Stop", "stop-loss fraction, 0.05 = 5 %"),
    ("take_profit", "Target", "take-profit fraction"),
    ("trailing_stop", "Trail", "trailing-stop fraction"),
)


class BacktestScreen(Screen[None]):
    BINDINGS = bindings("backtest")

    def __init__(
        self, runner: BacktestRunner, config: BacktestConfig, symbol: str, reports: Path
    ) -> None:
        super().__init__()
        self.runner = runner
        self.config = config
        self.symbol = symbol
        self.reports = reports
        self.doc: RunDoc | None = None
        self.job: int | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="bt-main"):
            with VerticalScroll(id="bt-form"):
                with Horizontal(classes="bt-row"):
                    yield Label("Strategy", classes="bt-label")
                    yield Select(
                        [(n, n) for n in sorted(REGISTRY)],
                        value="ma_cross",
                        allow_blank=False,
                        id="bt-strategy",
                    )
                for key, label, placeholder in FIELDS:
                    with Horizontal(classes="bt-row"):
                        yield Label(label, classes="bt-label")
                        yield Input(placeholder=placeholder, id=f"bt-{key}")
                with Horizontal(classes="bt-row"):
                    yield Label("Sizing", classes="bt-label")
                    yield Select(
                        [(s, s) for s in SIZINGS],
                        value=self.config.sizing,
                        allow_blank=False,
                        id="bt-sizing",
                    )
                with Horizontal(classes="bt-row"):
                    yield Label("Rank by", classes="bt-label")
                    yield Select(
                        [(m, m) for m in METRICS], value="sharpe", allow_blank=False, id="bt-metric"
                    )
                yield Static("", id="bt-error", classes="error", markup=False)
                yield Static(
                    "ctrl+s runs · esc cancels a run or goes back · ctrl+e exports HTML · "
                    "ctrl+l saved runs",
                    id="bt-status",
                    markup=False,  # it quotes what the worker says
                )
                yield ProgressBar(total=1, show_eta=False, id="bt-progress")
            with Vertical(id="bt-result"):
                with Horizontal(id="bt-top"):
                    yield MetricsTable(id="bt-metrics")
                    yield EquityChart(id="bt-chart")
                with Horizontal(id="bt-bottom"):
                    yield TradesTable(id="bt-trades")
                    yield HeatmapTable(id="bt-heatmap")
                yield RunsTable(id="bt-runs")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#bt-symbols", Input).value = self.symbol
        self.query_one("#bt-cash", Input).value = f"{self.config.init_cash:.0f}"
        self.query_one("#bt-size", Input).value = f"{self.config.size:g}"
        self._fill_defaults("ma_cross")
        self.refresh_runs()
        self.query_one("#bt-symbols", Input).focus()

    def _fill_defaults(self, name: str) -> None:
        strategy = REGISTRY[name]
        self.query_one("#bt-params", Input).value = " ".join(
            f"{k}={v:g}" for k, v in strategy.defaults.items()
        )
        grid = " ".join(f"{k}={','.join(f'{v:g}' for v in vs)}" for k, vs in strategy.grid.items())
        self.query_one("#bt-grid", Input).placeholder = f"e.g. {grid[:60]} (empty: no sweep)"

    @on(Select.Changed, "#bt-strategy")
    def _strategy_changed(self, event: Select.Changed) -> None:
        self._fill_defaults(str(event.value))

    # -- the request ---------------------------------------------------------------------------
    def _text(self, key: str) -> str:
        return self.query_one(f"#bt-{key}", Input).value.strip()

    def _number(self, key: str, label: str) -> float | None:
        text = self._text(key)
        if not text:
            return None
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{label}: expected a number, got {text!r}") from None

    def request(self) -> Request:
        """The form as a Request; ValueError names the field that is wrong."""
        from datetime import date

        def day(key: str) -> date | None:
            text = self._text(key)
            try:
                return date.fromisoformat(text) if text else None
            except ValueError:
                raise ValueError(
                    f"{key.title()}: expected a date like 2020-01-31, got {text!r}"
                ) from None

        overrides: dict[str, Any] = {"sizing": str(self.query_one("#bt-sizing", Select).value)}
        for key, label in (
            ("cash", "Cash"),
            ("size", "Size"),
            ("stop_loss", "Stop"),
            ("take_profit", "Target"),
            ("trailing_stop", "Trail"),
        ):
            value = self._number(key, label)
            if value is not None:
                overrides["init_cash" if key == "cash" else key] = value
        symbols = tuple(s for s in self._text("symbols").replace(",", " ").split() if s)
        return Request(
            strategy=str(self.query_one("#bt-strategy", Select).value),
            symbols=symbols,
            start=day("start"),
            end=day("end"),
            params=parse_words(self._text("params"), lambda w: parse_pair(w, "Params")),
            grid=parse_words(self._text("grid"), parse_axis),
            metric=str(self.query_one("#bt-metric", Select).value),
            fees=self._number("fees", "Fees"),
            overrides=overrides,
            oos=self._number("oos", "OOS"),
        )

    # -- actions -------------------------------------------------------------------------------
    def action_run_backtest(self) -> None:
        error = self.query_one("#bt-error", Static)
        try:
            request = self.request()
            request.check()
        except ValueError as exc:
            error.update(str(exc))
            return
        n, limit = request.grid_size(), self.config.max_combinations
        if n > limit:
            from dataclasses import replace

            from console.dialogs import ConfirmScreen

            def done(yes: bool | None) -> None:
                if yes:
                    self._start(replace(request, large_grid=True))

            self.app.push_screen(
                ConfirmScreen(
                    f"[b]The grid spans {n:,} combinations[/b], above \\[backtest] "
                    f"max_combinations ({limit:,}). A sweep holds about 2 KB per combination "
                    "plus one chunk of 1,024 columns in memory, and runs at roughly 5,000 "
                    "combinations a second on daily bars. Run it anyway?",
                    yes="Run",
                    no="Narrow it",
                ),
                done,
            )
            return
        self._start(request)

    def _start(self, request: Request) -> None:
        error = self.query_one("#bt-error", Static)
        try:
            self.job = self.runner.start(request)
        except ValueError as exc:
            error.update(str(exc))
            return
        error.update("")
        self._status(f"run {self.job}: starting the backtest process …")
        self.query_one("#bt-progress", ProgressBar).update(total=1, progress=0)

    def action_cancel_or_close(self) -> None:
        if self.runner.busy:
            self.runner.cancel()
            self._status("cancelling …")
        else:
            self.app.pop_screen()

    def action_focus_runs(self) -> None:
        """Straight to the saved runs, wherever focus is in the form."""
        self.query_one(RunsTable).focus()

    def action_export_report(self) -> None:
        if self.doc is None:
            self.notify(
                "Nothing to export yet: run a backtest or open a saved run", severity="warning"
            )
            return
        from services.backtest.report import write_report

        path = self.reports / f"run-{self.doc.get('run_id', 'unsaved')}.html"
        try:
            write_report(self.doc, path)
        except ValueError as exc:  # PathError: the folder cannot be written, a full disk
            self.notify(str(exc), severity="error", timeout=15)
            return
        self.notify(f"Report written to {path}", timeout=8)

    # -- from the App (bus updates) and the runs table ---------------------------------------
    def apply(self, update: BacktestUpdate) -> None:
        bar = self.query_one("#bt-progress", ProgressBar)
        if update.state in ("starting", "running"):
            if update.total:
                bar.update(total=update.total, progress=update.done)
            self._status(f"run {update.job}: {update.what}")
        elif update.state == "done" and update.doc is not None:
            bar.update(total=1, progress=1)
            self._status(f"run {update.job}: done, {update.what}")
            self.show(cast(RunDoc, update.doc))  # the worker's execute() made it
            self.refresh_runs()
        elif update.state == "failed":
            bar.update(total=1, progress=0)
            self._status(f"run {update.job} failed")
            self.query_one("#bt-error", Static).update(
                update.error.splitlines()[0] if update.error else "failed"
            )
        elif update.state == "cancelled":
            bar.update(total=1, progress=0)
            self._status(f"run {update.job} cancelled")

    def show(self, doc: RunDoc) -> None:
        self.doc = doc
        self.query_one(MetricsTable).show(doc)
        self.query_one(EquityChart).doc = doc
        self.query_one(TradesTable).show(doc)
        heatmap = self.query_one(HeatmapTable)
        heatmap.display = doc.get("heatmap") is not None  # none: the trades take its width
        heatmap.show(doc)
        params = " ".join(f"{k}={v:g}" for k, v in doc["params"].items())
        table = self.query_one(MetricsTable)
        table.border_title = Text(f"Run {doc.get('run_id', '')}: {doc['strategy']} {params}")
        # the dates fit the pane's border whole; how prices were taken is on the chart
        span = f"{doc['start']} → {doc['end']}"
        table.border_subtitle = Text(
            f"{span} · OOS {doc['oos']['start']}" if "oos" in doc else span
        )

    def refresh_runs(self) -> None:
        try:
            self.query_one(RunsTable).show_runs(self.runner.runs.list())
        except ValueError as exc:  # RunsError: the saved runs' file is damaged
            self._status(f"saved runs unavailable: {exc}")

    @on(RunsTable.OpenRequested)
    def _open(self, message: RunsTable.OpenRequested) -> None:
        try:
            self.show(self.runner.runs.load(message.run_id))
        except ValueError as exc:
            self.notify(str(exc), severity="error", timeout=15)

    @on(RunsTable.CompareRequested)
    def _compare(self, message: RunsTable.CompareRequested) -> None:
        try:
            a, b = self.runner.runs.load(message.a), self.runner.runs.load(message.b)
        except ValueError as exc:
            self.notify(str(exc), severity="error", timeout=15)
            return
        self.app.push_screen(CompareScreen(message.a, message.b, compare(a, b)))

    def _status(self, text: str) -> None:
        self.query_one("#bt-status", Static).update(text)


class CompareScreen(ModalScreen[None]):
    """Two saved runs side by side."""

    BINDINGS = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, a: int, b: int, rows: list[tuple[str, Any, Any]]) -> None:
        super().__init__()
        self.a, self.b, self.rows = a, b, rows

    def compose(self) -> ComposeResult:
        table = Table(
            "", f"run {self.a}", f"run {self.b}", box=None, title="Compare runs (esc closes)"
        )
        for key, va, vb in self.rows:
            cells = (Text(str(c)) for c in (key, fmt(key, va), fmt(key, vb)))
            table.add_row(*cells, style="bold" if va != vb else "")
        with Vertical(classes="dialog compare"):
            yield Static(table)

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
