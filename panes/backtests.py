"""Backtest result widgets: metrics, an equity and drawdown chart, trades, a heatmap, runs.

Dumb widgets: the screen hands each one a run document (``show``) and they
post messages for what the user asks (open or compare runs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import events
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from panes.format import right
from panes.keys import bindings
from panes.table import Col, KeyedTable, fit
from services.backtest.spec import RunDoc, prices_line
from services.backtest.spec import format_value as fmt

EIGHTHS = " ▁▂▃▄▅▆▇█"


class MetricsTable(KeyedTable):
    """One row per metric; a second value column for out-of-sample when there is one
    (its start is in the pane's subtitle). Both value columns fit the pane's 44 cells
    of content, so no value is ever cut by the pane's edge."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)
        self.border_title = "Metrics"

    def show(self, doc: RunDoc | None) -> None:
        self.clear(columns=True)
        if doc is None:
            return
        oos = doc.get("oos")
        self.add_column("Metric", key="metric", width=METRIC_NAME)
        self.add_column(right("In sample" if oos else "Value"), key="value", width=METRIC_VALUE)
        if oos:
            self.add_column(right("OOS"), key="oos", width=METRIC_VALUE)
        for name, value in doc["metrics"].items():
            cells = [name, fit(Text(fmt(name, value), justify="right"), METRIC_VALUE)]
            if oos:
                other = oos["metrics"][name]
                cells.append(fit(Text(fmt(name, other), justify="right"), METRIC_VALUE))
            self.add_row(*cells, key=name)


METRIC_NAME, METRIC_VALUE = 17, 10  # "annual_volatility"; "-1,234.56%"


def area(values: Sequence[float], width: int, height: int) -> list[str]:
    """``values`` as a filled area chart of ``height`` text rows (eighth-block resolution)."""
    if not values or width < 1 or height < 1:
        return [""] * height
    step = len(values) / width
    cols = [values[min(int(i * step), len(values) - 1)] for i in range(min(width, len(values)))]
    lo, hi = min(cols), max(cols)
    span = (hi - lo) or 1.0
    levels = [round((v - lo) / span * height * 8) for v in cols]
    rows = []
    for r in range(height):
        base = (height - 1 - r) * 8
        line = "".join(EIGHTHS[max(0, min(8, lv - base))] for lv in levels)
        rows.append(line)
    return rows


class EquityChart(Widget):
    """Equity (top) and drawdown (bottom) of the shown run, scaled to the widget."""

    doc: reactive[RunDoc | None] = reactive(None, layout=False)

    def render(self) -> Text:
        doc = self.doc
        width, height = self.size.width, self.size.height
        if doc is None or height < 4:
            return Text("Run a backtest (ctrl+s) or open a saved run (enter).", style="dim")
        equity = doc["equity"]["value"]
        drawdown = doc["drawdown"]["value"]
        eq_rows = max(2, (height - 2) * 2 // 3)
        dd_rows = max(1, height - 2 - eq_rows)
        text = Text()
        if doc.get("adjusted"):  # how prices were taken, what dividends paid
            text.append(prices_line(doc, short=True) + "\n", style="dim")
            eq_rows = max(2, eq_rows - 1)
        text.append(f"equity {equity[0]:,.0f} → {equity[-1]:,.0f}\n", style="bold")
        for line in area(equity, width, eq_rows):
            text.append(line + "\n", style="green")
        text.append(f"drawdown, max {min(drawdown):.1%}\n", style="bold")
        for line in area(drawdown, width, dd_rows):
            text.append(line + "\n", style="red")
        return text


class TradesTable(KeyedTable):
    """A run's closed trades; columns give way by priority when the pane is narrow."""

    FIELDS = (  # key, width, priority
        ("symbol", 11, 0),
        ("entry_time", 10, 0),
        ("entry_price", 9, 3),
        ("exit_time", 10, 0),
        ("exit_price", 9, 3),
        ("size", 8, 1),
        ("pnl", 11, 0),
        ("return", 8, 2),
    )

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)
        self.border_title = "Trades"

    def show(self, doc: RunDoc | None) -> None:
        if doc is None:
            self.set_columns(())
            return
        trades = doc["trades"]
        self.border_title = f"Trades ({len(trades):,} closed)"
        several = bool(trades) and "symbol" in trades[0]
        self.set_columns(
            tuple(
                Col(
                    name,
                    name.replace("_", " ") if "time" in name else right(name.replace("_", " ")),
                    width,
                    priority,
                )
                for name, width, priority in self.FIELDS
                if name != "symbol" or several
            )
        )
        for i, trade in enumerate(trades):
            self.put(
                str(i),
                {
                    c.key: str(trade[c.key])[:10]
                    if c.key.endswith("_time") or c.key == "symbol"
                    else Text(fmt(c.key, trade[c.key]), justify="right")
                    for c in self.COLUMNS
                },
            )


class HeatmapTable(KeyedTable):
    """A two-parameter sweep's metric, one cell per combination, coloured by rank.

    A wide grid does not fit: the subtitle says how many columns show and that the
    cursor scrolls to the rest. The row labels stay put and are widened so that whole
    cells fill the rest of the pane: a value is never half-shown at its edge."""

    CELL = 8  # a value right-aligned in 8 with no padding: "-12.34%" keeps a space before it
    LABEL = 6  # the least width of the row labels' column

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)
        self.border_title = "Heatmap"
        self.cursor_type = "cell"
        self.cell_padding = 0
        self.fixed_columns = 1
        self.heat_columns = 0
        self.doc: RunDoc | None = None
        self._laid_out_at = -1

    def on_resize(self, event: events.Resize) -> None:
        if self.doc is not None and self.content_size.width != self._laid_out_at:
            self.show(self.doc)

    def fitting(self) -> tuple[int, int]:
        """(the row labels' width, how many value columns show) in this pane's width."""
        pad = 2 * self.cell_padding
        width, height = self.content_size
        cells = max(1, (width - self.LABEL - pad) // (self.CELL + pad))
        wide = self.heat_columns > cells  # a horizontal scrollbar takes a row
        rows = len(self.doc["heatmap"]["rows"]["values"]) if self.doc else 0
        if rows + 1 + (self.styles.scrollbar_size_horizontal if wide else 0) > height:
            width -= self.styles.scrollbar_size_vertical  # the rows scroll too
        cells = max(1, (width - self.LABEL - pad) // (self.CELL + pad))
        shown = min(self.heat_columns, cells)
        room = width
        label = max(self.LABEL, room - pad - shown * (self.CELL + pad))
        return label, shown

    def show(self, doc: RunDoc | None) -> None:
        self.doc = doc
        self.clear(columns=True)
        heat = None if doc is None else doc.get("heatmap")
        if heat is None:
            self.heat_columns = 0
            self.set_status("")
            self.border_title = "Heatmap (a two-parameter --grid)"
            return
        rows, cols = heat["rows"], heat["columns"]
        self.border_title = f"{heat['metric']}: {rows['name']} ↓ × {cols['name']} →"
        self.heat_columns = len(cols["values"])
        label, shown = self.fitting()
        self._laid_out_at = self.content_size.width
        self.set_status(
            "" if shown >= self.heat_columns else f"{shown} of {self.heat_columns}, → scrolls"
        )
        self.add_column(f" {rows['name']}", key="_row", width=label)
        for c in cols["values"]:
            self.add_column(right(f"{c:g}"), key=f"{c:g}", width=self.CELL)
        flat = sorted(v for row in heat["values"] for v in row if v is not None)
        for r, row in zip(rows["values"], heat["values"], strict=True):
            cells: list[object] = [f" {r:g}"]
            for v in row:
                if v is None:
                    cells.append(Text("–", justify="right", style="dim"))
                    continue
                q = flat.index(v) / max(1, len(flat) - 1)
                style = "on dark_red" if q < 0.25 else "on grey30" if q < 0.75 else "on dark_green"
                if v == flat[-1]:
                    style = "bold on green"
                value = Text(fmt(heat["metric"], v), justify="right", style=style)
                cells.append(fit(value, self.CELL))
            self.add_row(*cells, key=f"{r:g}")


class RunsTable(KeyedTable):
    """Saved runs, newest first; space marks up to two, c compares them, enter opens one."""

    BINDINGS = bindings("runs")

    @dataclass
    class OpenRequested(Message):
        run_id: int

    @dataclass
    class CompareRequested(Message):
        a: int
        b: int

    COLUMNS = (
        Col("mark", "", 1),
        Col("id", right("id"), 4),
        Col("saved", "saved", 16, priority=2),
        Col("strategy", "strategy", 9, priority=1),
        Col("symbol", "symbol", 11),
        Col("params", "params", 10, fill=True),
        Col("sharpe", right("sharpe"), 7),
        Col("return", right("return"), 8),
    )

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)
        self.border_title = "Saved runs (space marks two, c compares, enter opens)"
        self.marked: list[int] = []

    def show_runs(self, runs: Sequence[Any]) -> None:
        keep = self.selected_key
        self.clear_rows()  # newest first: a new run goes on top
        for r in runs:
            self.put(
                str(r.id),
                {
                    "mark": "●" if r.id in self.marked else "",
                    "id": Text(str(r.id), justify="right"),
                    "saved": r.created.replace("T", " ")[:16],
                    "strategy": r.strategy,
                    "symbol": r.symbol,
                    "params": " ".join(f"{k}={v:g}" for k, v in r.params.items()),
                    "sharpe": Text(fmt("sharpe", r.metrics.get("sharpe")), justify="right"),
                    "return": Text(
                        fmt("total_return", r.metrics.get("total_return")), justify="right"
                    ),
                },
            )
        if keep is not None and keep in self.rows:
            self.move_cursor(row=self.get_row_index(keep), animate=False)

    def action_mark_run(self) -> None:
        key = self.selected_key
        if key is None:
            return
        run_id = int(key)
        if run_id in self.marked:
            self.marked.remove(run_id)
        else:
            self.marked = [*self.marked[-1:], run_id]
        for row in list(self.rows):
            key = str(row.value)
            self.put(key, {"mark": "●" if int(key) in self.marked else ""})

    def action_compare_runs(self) -> None:
        if len(self.marked) == 2:
            self.post_message(self.CompareRequested(*self.marked))
        else:
            self.notify("Mark two runs with space first", severity="warning")

    def action_open_run(self) -> None:
        if self.selected_key is not None:
            self.post_message(self.OpenRequested(int(self.selected_key)))
