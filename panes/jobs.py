"""Jobs: each scheduled job's next run, last run, duration and result; run one now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual.message import Message

from panes.format import EXCHANGE_LABEL, exchange_time
from panes.keys import bindings
from panes.table import KeyedTable
from services.ops.scheduler import JobState

STATE_STYLE = {
    "ok": "green",
    "warning": "yellow",
    "failed": "bold red",
    "skipped": "dim",
    "running": "bold cyan",
}


def _when(at: datetime | None) -> str:
    return exchange_time(at).strftime("%m-%d %H:%M") if at is not None else "—"


class Jobs(KeyedTable):
    """Rows keyed by job name; ``update_jobs`` applies the scheduler's states."""

    BINDINGS = bindings("jobs")

    @dataclass
    class RunRequested(Message):
        name: str

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)
        self.border_title = f"Jobs ({EXCHANGE_LABEL})"

    def on_mount(self) -> None:
        self.add_column("Job", key="job", width=10)
        self.add_column("Next", key="next", width=11)
        self.add_column("Last", key="last", width=11)
        self.add_column("Result", key="result", width=13)  # details go to the log

    def update_jobs(self, states: list[JobState]) -> None:
        for state in states:
            if state.running:
                result = Text(f"running {state.progress}".strip(), style=STATE_STYLE["running"])
            elif state.last_state:
                text = f"{state.last_state} {state.last_seconds:.1f}s"
                result = Text(text, style=STATE_STYLE.get(state.last_state, ""))
            else:
                result = Text("not run yet", style="dim")
            cells = (state.name, _when(state.next_run), _when(state.last_run), result)
            if state.name in self.rows:
                for column, value in zip(("next", "last", "result"), cells[1:], strict=True):
                    self.update_cell(state.name, column, value)
            else:
                self.add_row(*cells, key=state.name)

    def action_run_job(self) -> None:
        if self.selected_key:
            self.post_message(self.RunRequested(self.selected_key))
