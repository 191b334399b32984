"""The risk screen (L): trading state, each limit's use, recent rejections, execution
quality per order source; edit limits."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Static

from console.dialogs import ConfirmScreen, TextPromptScreen
from panes.footer import KeyFooter
from panes.format import cst
from panes.keys import bindings
from panes.risk import ExecutionTable, LimitsTable, RejectionsTable
from services.settings import ConfigValueError
from services.trading.execution import ExecutionMonitor
from services.trading.risk import limit_text
from services.trading.risk_monitor import NeedsConfirmation, RiskMonitor


class RiskScreen(Screen[None]):
    BINDINGS = bindings("risk")

    def __init__(self, monitor: RiskMonitor, execution: ExecutionMonitor | None = None) -> None:
        super().__init__()
        self.monitor = monitor
        self.execution = execution

    def compose(self) -> ComposeResult:
        with Vertical(id="risk-body"):
            yield Static("", id="risk-state")
            yield LimitsTable(id="limits")
            yield RejectionsTable(id="rejections")
            yield ExecutionTable(id="execution")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.refresh_all()
        self.set_interval(1.0, self.refresh_all)
        self.query_one(LimitsTable).focus()

    def refresh_all(self) -> None:
        control = self.monitor.control
        reason = f" — {control.reason}" if control.reason else ""
        style = {"ACTIVE": "green", "REDUCING": "yellow", "HALTED": "bold red"}[control.state.name]
        self.query_one("#risk-state", Static).update(
            Text.assemble(
                "Trading ",
                (control.state.name, style),
                f"{reason} since {cst(control.since)}",  # the reason as typed: no markup
            )
        )
        self.query_one(LimitsTable).show(self.monitor.usage())
        self.query_one(RejectionsTable).show(list(self.monitor.rejections))
        if self.execution is not None:
            self.query_one(ExecutionTable).show(self.execution.by_source())

    def on_limits_table_edit_requested(self, message: LimitsTable.EditRequested) -> None:
        name = message.name
        current = getattr(self.monitor.config, name)

        def parse(text: str) -> float | str:
            try:
                value = float(text.strip().rstrip("%")) / (100 if text.strip().endswith("%") else 1)
            except ValueError:
                return f"Type a number (0 turns the limit off), e.g. {current:,}"
            return value if value >= 0 else "A limit cannot be negative"

        def validate(text: str) -> str:
            got = parse(text)
            return got if isinstance(got, str) else ""

        def apply(value: float, confirmed: bool) -> None:
            try:
                how = self.monitor.set_limit(name, value, confirmed=confirmed)
            except NeedsConfirmation as exc:
                self.app.push_screen(
                    ConfirmScreen(
                        Text.assemble((str(exc), "bold"), "\nIt is journaled."),
                        yes="Loosen",
                        no="Keep",
                    ),
                    lambda yes: apply(value, True) if yes else self.notify("Limit kept"),
                )
                return
            except (ConfigValueError, ValueError) as exc:
                self.notify(f"{name}: {exc}", severity="error")
                return
            self.notify(f"{name} {how}: now {limit_text(name, getattr(self.monitor.config, name))}")
            self.refresh_all()

        def done(text: str | None) -> None:
            if text:
                got = parse(text)
                if not isinstance(got, str):
                    apply(got, False)

        self.app.push_screen(
            TextPromptScreen(
                f"New value for {name} (now {limit_text(name, current)}; 0 = off; a "
                "percent as 3% or 0.03):",
                validate,
            ),
            done,
        )

    def action_close(self) -> None:
        self.app.pop_screen()
