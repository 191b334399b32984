"""Risk pane widgets: each limit with its use as a bar, and the latest rejections."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.text import Text
from textual.message import Message

from panes.format import EXCHANGE_LABEL, exchange_time
from panes.keys import bindings
from panes.table import KeyedTable
from services.trading.risk import UNITS, limit_text, with_unit

BAR = 20
PER_ORDER = frozenset(
    {"max_order_qty", "max_order_notional", "duplicate_window_s", "price_band_pct", "stale_quote_s"}
)


def bar(fraction: float) -> Text:
    """A 20-cell bar, green under 70 %, yellow under 90 %, red beyond."""
    filled = max(0, min(BAR, round(fraction * BAR)))
    style = "green" if fraction < 0.7 else "yellow" if fraction < 0.9 else "bold red"
    return Text("█" * filled + "·" * (BAR - filled), style=style)


def number(name: str, value: float) -> str:
    """A limit's current use or value with its unit (money, percent, seconds, counts)."""
    return with_unit(value, UNITS.get(name, ""))


class LimitsTable(KeyedTable):
    BINDINGS = bindings("limits")

    @dataclass
    class EditRequested(Message):
        name: str

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)
        self.border_title = "Limits (e edits: tightening applies at once, loosening asks)"

    def on_mount(self) -> None:
        for label, key, width in (
            ("Limit", "label", 30),
            ("Use", "bar", BAR),
            ("Now", "now", 14),
            ("Limit", "limit", 16),
        ):
            self.add_column(label, key=key, width=width)

    def show(self, uses: Sequence[Any]) -> None:
        for u in uses:
            per_order = u.name in PER_ORDER  # nothing accumulates: no bar, no "now"
            cells = (
                u.label,
                Text("per order", style="dim") if per_order else bar(u.fraction),
                Text("" if per_order else number(u.name, u.used), justify="right"),
                Text(limit_text(u.name, u.limit), justify="right"),
            )
            if u.name in self.rows:
                for key, value in zip(("bar", "now", "limit"), cells[1:], strict=True):
                    self.update_cell(u.name, key, value)
            else:
                self.add_row(*cells, key=u.name)

    def action_edit_limit(self) -> None:
        if self.selected_key is not None:
            self.post_message(self.EditRequested(self.selected_key))


class RejectionsTable(KeyedTable):
    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)
        self.border_title = f"Recent rejections ({EXCHANGE_LABEL})"

    def on_mount(self) -> None:
        for label, width in (
            ("Time", 8),
            ("Order", 26),
            ("Rule", 16),
            ("Value", 12),
            ("Limit", 14),
            ("Why", 60),
        ):
            self.add_column(label, key=label.lower(), width=width)

    def show(self, rejections: Sequence[tuple[datetime, Any]]) -> None:
        self.clear()
        n = 0
        for at, rejected in rejections:  # a row per rule the order broke
            i = rejected.intent
            order = f"{i.side.upper()} {i.qty:,} {i.vt_symbol}"
            for v in rejected.violations:
                self.add_row(
                    f"{exchange_time(at):%H:%M:%S}",
                    order,
                    v.rule,
                    v.value,
                    v.limit,
                    v.message,
                    key=str(n),
                )
                n += 1


class ExecutionTable(KeyedTable):
    """Per order source: orders, fill rate, median latencies, mean slippage."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)
        self.border_title = (
            "Execution (system latency from your confirm; review = time before it; "
            "slippage vs the limit, + is worse)"
        )

    def on_mount(self) -> None:
        for label, width in (
            ("Source", 18),
            ("Orders", 7),
            ("Fill rate", 9),
            ("Review s", 9),
            ("Confirm→send ms", 15),
            ("Ack ms", 8),
            ("Fill ms", 8),
            ("Slippage bp", 11),
        ):
            self.add_column(label, key=label, width=width)

    def show(self, rows: Sequence[Any]) -> None:
        def ms(v: float | None) -> Text:
            return Text("–" if v is None else f"{v:.1f}", justify="right")

        self.clear()
        for r in rows:
            self.add_row(
                r.source,
                Text(str(r.orders), justify="right"),
                Text(f"{r.fill_rate:.0%}", justify="right"),
                Text(
                    "–" if r.median_review_ms is None else f"{r.median_review_ms / 1000:.1f}",
                    justify="right",
                ),
                ms(r.median_confirm_to_send_ms),
                ms(r.median_ack_ms),
                ms(r.median_fill_ms),
                ms(r.mean_slippage_bps),
                key=r.source,
            )
