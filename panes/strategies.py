"""Strategies: each configured instance, its symbols, whether it runs; s starts or stops it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.message import Message

from panes.keys import bindings
from panes.table import KeyedTable


class StrategiesTable(KeyedTable):
    BINDINGS = bindings("strategies")

    @dataclass
    class ToggleRequested(Message):
        strategy_id: str

    @dataclass
    class CompareRequested(Message):
        strategy_id: str

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)
        self.border_title = "Strategies"

    def on_mount(self) -> None:
        for name, width in (("Id", 9), ("Rule", 9), ("Symbols", 14), ("State", 9)):
            self.add_column(name, key=name.lower(), width=width)

    def show(self, specs: Sequence[Any], running: set[str]) -> None:
        for spec in specs:
            state = (
                Text("running", style="bold green")
                if spec.id in running
                else Text("stopped", style="dim")
            )
            if spec.auto_approve and spec.id in running:
                state = Text("auto", style="bold magenta")
            cells = (spec.id, spec.strategy, ",".join(s.split(".")[0] for s in spec.symbols), state)
            if spec.id in self.rows:
                self.update_cell(spec.id, "state", state)
            else:
                self.add_row(*cells, key=spec.id)

    def action_toggle_strategy(self) -> None:
        if self.selected_key is not None:
            self.post_message(self.ToggleRequested(self.selected_key))

    def action_compare_strategy(self) -> None:
        if self.selected_key is not None:
            self.post_message(self.CompareRequested(self.selected_key))
