"""Log pane: what the services say, newest at the bottom, wrapped to the pane's width."""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual import events
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
MAX_LINES = 2000


class LogPane(RichLog):
    """Each record wraps at the pane's own width (RichLog's default wraps at 78 columns
    and crops the rest in a narrower pane, hiding the middle of every long line); a
    resize wraps the kept lines again at the new width."""

    def __init__(self, **kw: object) -> None:
        super().__init__(max_lines=MAX_LINES, wrap=True, markup=False, min_width=1, **kw)  # type: ignore[arg-type]
        self.border_title = f"Log ({EXCHANGE_LABEL}, exchange time)"
        self.lines_seen = 0
        self._kept: deque[Text] = deque(maxlen=MAX_LINES)
        self._wrapped_at = 0

    def add(self, record: LogRecorded) -> None:
        self.lines_seen += 1
        line = Text.assemble(
            (exchange_time(record.at).strftime("%H:%M:%S "), "dim"),
            (f"{record.source:<9} ", "cyan"),
            (record.message, LEVEL_STYLE.get(record.level, "")),
        )
        self._kept.append(line)
        self.write(line)

    def on_resize(self, event: events.Resize) -> None:
        width = self.scrollable_content_region.width
        if self._wrapped_at and width != self._wrapped_at and self._kept:
            self.clear()  # (the deferred writes RichLog keeps are in _kept too)
            for line in self._kept:
                self.write(line)
        self._wrapped_at = width
