"""The review queue: strategies' proposed orders, each with its reason and risk verdict.

a / enter approves, r rejects, e edits quantity or price, A approves and R rejects
every proposal of the selected row's strategy. Stale proposals are marked and
cannot be approved as they are.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.message import Message

from panes.format import palette
from panes.keys import bindings
from panes.table import Col, KeyedTable, compact

RISK_WIDTH = 14


class ReviewTable(KeyedTable):
    BINDINGS = bindings("review")
    ROW_HEIGHT = 2
    # the reason is always shown and takes the width that is left; the verdict is two
    # short lines (risk_cell), so all three fit a 120-column terminal
    COLUMNS = (
        Col("order", "Order", 20),
        Col("why", "Why", 14, fill=True),
        Col("risk", "Risk", RISK_WIDTH, priority=1),
    )

    @dataclass
    class Decided(Message):
        intent_id: str
        action: str  # "approve", "reject", "edit"

    @dataclass
    class DecidedAll(Message):
        strategy_id: str
        action: str  # "approve", "reject"

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)
        self.border_title = "Review queue"
        self.strategy_of: dict[str, str] = {}
        self.venue = ""  # live: the account approved orders go to ("LIVE s1")

    def show(self, items: Sequence[Any]) -> None:
        """``items``: ReviewItems (proposal, verdict, stale, notional), oldest first."""
        keep = self.selected_key
        self.strategy_of = {}
        width = self.width_of("why") or 27
        current = {item.proposal.intent.intent_id for item in items}
        for gone in [str(k.value) for k in self.rows if k.value not in current]:
            self.drop(gone)  # rows stay put otherwise: an unchanged verdict repaints nothing
        for item in items:
            p, intent = item.proposal, item.proposal.intent
            side_style = palette.up if intent.side == "buy" else palette.down
            risk = risk_cell(item.stale, item.verdict, self.width_of("risk") or RISK_WIDTH)
            order = Text()
            order.append(f"{intent.side.upper()} {intent.qty:,} ", style=f"bold {side_style}")
            order.append(intent.vt_symbol)
            price = f"{intent.price:g}" if intent.price else "market"
            order.append(f"\n@ {price} = {item.notional:,.0f}")
            lines = textwrap.wrap(f"{p.strategy_id}: {p.reason}", width)
            if len(lines) > 2:  # the rest of the reason is in the journal and the log
                lines = [lines[0], lines[1][: width - 1] + "…"]
            self.put(intent.intent_id, {"order": order, "why": "\n".join(lines), "risk": risk})
            self.strategy_of[intent.intent_id] = p.strategy_id
        title = f"Review queue ({len(items):,})" if items else "Review queue"
        if self.venue:
            title += f" → {self.venue}"
        if title != self.border_title:
            self.border_title = title
        if keep in self.strategy_of and self.get_row_index(keep) != self.cursor_row:
            self.move_cursor(row=self.get_row_index(keep))

    def _decide(self, action: str) -> None:
        if self.selected_key is not None:
            self.post_message(self.Decided(self.selected_key, action))

    def action_approve(self) -> None:
        self._decide("approve")

    def action_reject(self) -> None:
        self._decide("reject")

    def action_edit(self) -> None:
        self._decide("edit")

    def _all(self, action: str) -> None:
        key = self.selected_key
        if key is not None:
            self.post_message(self.DecidedAll(self.strategy_of[key], action))

    def action_approve_all(self) -> None:
        self._all("approve")

    def action_reject_all(self) -> None:
        self._all("reject")


def risk_cell(stale: str, verdict: Sequence[Any], width: int) -> Text:
    """The verdict in two lines of ``width`` cells: a rule's name may be cut (with an
    ellipsis), its value and limit never are -- units go first, then digits become
    k/M, as in every table."""
    if stale:
        reason = stale.removeprefix("stale: ")
        return Text(f"STALE\n{compact(reason, width)}", style="bold yellow")
    if not verdict:
        return Text("✓ passes\nevery check", style="green")
    v = verdict[0]
    head = compact(f"✗ {v.rule}", width)
    value, limit = v.value, v.limit
    bare = (value.split(" ")[0], limit.split(" ")[0])  # "1,200 shares" -> "1,200"
    half = (width - 1) // 2
    for tail in (
        f"{value} (limit {limit})",
        f"{value} > {limit}",
        f"{bare[0]} > {bare[1]}",
        f"{bare[0]}>{bare[1]}",
        f"{compact(bare[0], half)}>{compact(bare[1], width - 1 - half)}",
    ):
        if len(tail) <= width:
            break
    return Text(f"{head}\n{tail}", style="bold red")
