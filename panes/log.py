"""Log pane: what the services say, newest at the bottom."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog

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
        super().__init__(max_lines=2000, wrap=False, markup=False, **kw)  # type: ignore[arg-type]
        self.border_title = "Log"
        self.lines_seen = 0

    def add(self, record: LogRecorded) -> None:
        self.lines_seen += 1
        line = Text.assemble(
            (record.at.strftime("%H:%M:%S "), "dim"),
            (f"{record.source:<9} ", "cyan"),
            (record.message, LEVEL_STYLE.get(record.level, "")),
        )
        self.write(line)
