"""Log pane: what the services say, newest at the bottom."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog

from panes.format import EXCHANGE_LABEL, exchange_time
from services.events import LogRecorded

LEVEL_STYLE = {
    "DEBUG": "dim",
    "INFO": "",
    "WARNING": "yellow",
    "ERROR": "bold red",
    "CRITICAL": "bold white on red",
}


class LogPane(RichLog):
    def __init__(self, **kw: object) -> None:
        # wrapped: a long line continues on the next row rather than being cut
        super().__init__(max_lines=2000, wrap=True, markup=False, **kw)  # type: ignore[arg-type]
        self.border_title = f"Log ({EXCHANGE_LABEL}, exchange time)"
        self.lines_seen = 0

    def add(self, record: LogRecorded) -> None:
        self.lines_seen += 1
        line = Text.assemble(
            (exchange_time(record.at).strftime("%H:%M:%S "), "dim"),
            (f"{record.source:<9} ", "cyan"),
            (record.message, LEVEL_STYLE.get(record.level, "")),
        )
        self.write(line)
