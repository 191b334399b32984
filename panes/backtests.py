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
from panes.table import Col, KeyedTable
from services.backtest.spec import RunDoc
from services.backtest.spec import format_value as fmt

EIGHTHS = " ▁▂▃▄▅▆▇█"


class MetricsTable(KeyedTable):
    """One row per metric; a second value column for out-of-sample when there is one."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)
        self.border_title = "Metrics"

    def show(self, doc: RunDoc | None) -> None:
        self.clear(columns=True)
        if doc is None:
            return
        self.add_column("Metric", key="metric", width=18)
        self.add_column("In sample" if "oos" in doc else "Value", key="value", width=11)
        if "oos" in doc:
            self.add_column(f"OOS {doc['oos']['start']}", key="oos", width=16)
        for name, value in doc["metrics"].items():
            cells = [name, Text(fmt(name, value), justify="right")]
            if "oos" in doc:
                cells.append(Text(fmt(name, doc["oos"]["metrics"][name]), justify="right"))
            self.add_row(*cells, key=name)


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
        text.append(f"equity {equity[0]:,.0f} → {equity[-1]:,.0f}\n", style="bold")
        for line in area(equity, width, eq_rows):
            text.append(line + "\n", style="green")
        text.append(f"drawdown (max {min(drawdown):.1%}; a dip is a drawdown)\n", style="bold")
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
    cursor scrolls to the rest."""

    CELL = 7

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)
        self.border_title = "Heatmap"
        self.cursor_type = "cell"
        self.heat_columns = 0

    def on_resize(self, event: events.Resize) -> None:
        self._say_shown()

    def _say_shown(self) -> None:
        if not self.heat_columns:
            self.set_status("")
            return
        room = max(0, self.content_size.width - 1 - (6 + 2 * self.cell_padding))
        shown = min(self.heat_columns, room // (self.CELL + 2 * self.cell_padding))
        self.set_status(
            ""
            if shown >= self.heat_columns
            else f"{shown} of {self.heat_columns} columns shown: → scrolls to the rest"
        )

    def show(self, doc: RunDoc | None) -> None:
        self.clear(columns=True)
        heat = None if doc is None else doc.get("heatmap")
        if heat is None:
            self.border_title = "Heatmap (a two-parameter --grid)"
            return
        rows, cols = heat["rows"], heat["columns"]
        self.border_title = f"{heat['metric']}: {rows['name']} ↓ × {cols['name']} →"
        self.heat_columns = len(cols["values"])
        self._say_shown()
        self.add_column(rows["name"], key="_row", width=6)
        for c in cols["values"]:
            self.add_column(f"{c:g}", key=f"{c:g}", width=self.CELL)
        flat = sorted(v for row in heat["values"] for v in row if v is not None)
        for r, row in zip(rows["values"], heat["values"], strict=True):
            cells: list[str | Text] = [f"{r:g}"]
            for v in row:
                if v is None:
                    cells.append(Text("–", justify="right", style="dim"))
                    continue
                q = flat.index(v) / max(1, len(flat) - 1)
                style = "on dark_red" if q < 0.25 else "on grey30" if q < 0.75 else "on dark_green"
                if v == flat[-1]:
                    style = "bold on green"
                cells.append(Text(f"{v:.2f}", justify="right", style=style))
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

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)
        self.border_title = "Saved runs (space marks two, c compares, enter opens)"
        self.marked: list[int] = []

    def on_mount(self) -> None:
        self.add_column("", key="mark", width=1)
        for name, width in (
            ("id", 4),
            ("saved", 16),
            ("strategy", 9),
            ("symbol", 11),
            ("params", 22),
            ("sharpe", 7),
            ("return", 8),
        ):
            self.add_column(name, key=name, width=width)

    def show_runs(self, runs: Sequence[Any]) -> None:
        self.clear()
        for r in runs:
            params = " ".join(f"{k}={v:g}" for k, v in r.params.items())
            self.add_row(
                "●" if r.id in self.marked else "",
                str(r.id),
                r.created.replace("T", " ")[:16],
                r.strategy,
                r.symbol,
                params,
                Text(fmt("sharpe", r.metrics.get("sharpe")), justify="right"),
                Text(fmt("total_return", r.metrics.get("total_return")), justify="right"),
                key=str(r.id),
            )

    def action_mark_run(self) -> None:
        key = self.selected_key
        if key is None:
            return
        run_id = int(key)
        if run_id in self.marked:
            self.marked.remove(run_id)
        else:
            self.marked = [*self.marked[-1:], run_id]
        for row in self.rows:
            self.update_cell(row, "mark", "●" if int(str(row.value)) in self.marked else "")

    def action_compare_runs(self) -> None:
        if len(self.marked) == 2:
            self.post_message(self.CompareRequested(*self.marked))
        else:
            self.notify("Mark two runs with space first", severity="warning")

    def action_open_run(self) -> None:
        if self.selected_key is not None:
            self.post_message(self.OpenRequested(int(self.selected_key)))
