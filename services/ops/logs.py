"""Logging: a file in the data directory, and the log pane through the bus.

Nothing may write to stdout/stderr while the TUI runs, so the root logger
gets only a file handler, and Python warnings are routed into logging.
"""

from __future__ import annotations

import logging
import logging.handlers
from datetime import datetime
from pathlib import Path

from services.bus import Bus
from services.events import EVENT_LOG_RECORDED, LogRecorded
from services.ops.redact import RedactingFilter

# Libraries that log each request's URL at INFO (httpx: "HTTP Request: POST
# .../bot<TOKEN>/getUpdates"): only their warnings reach the log, masked as every record.
QUIET = ("httpx", "httpcore", "urllib3", "requests", "telegram", "hpack", "websockets")


class FileLog(logging.handlers.RotatingFileHandler):
    """The log file. A write that fails (a full disk) is counted, never printed: logging's
    own "--- Logging error ---" traceback would go to the terminal under the console. The
    log pane still shows every line and the system monitor warns of the disk."""

    failures = 0

    def handleError(self, record: logging.LogRecord) -> None:
        self.failures += 1


class BusLogHandler(logging.Handler):
    """Publishes ``quantdesk.*`` records (INFO and up) as LogRecorded events."""

    def __init__(self, bus: Bus, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.bus = bus
        self.addFilter(logging.Filter("quantdesk"))
        self.addFilter(RedactingFilter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not take logging down
            message = str(record.msg)
        source = record.name.removeprefix("quantdesk.")
        self.bus.publish(
            EVENT_LOG_RECORDED,
            LogRecorded(datetime.fromtimestamp(record.created), record.levelname, source, message),
        )


def setup_file_logging(data_dir: Path, level: int = logging.INFO) -> Path | None:
    """Send every log record (ours, vnpy's, warnings) to ``<data_dir>/logs/quantdesk.log``,
    with secrets masked.

    In a data directory that cannot be written (a read-only copy), warnings and
    errors go to stderr instead and None is returned: reading commands still work.
    Only the console and ``--headless`` need the file, and they lock the directory
    for writing first.
    """
    path = data_dir / "logs" / "quantdesk.log"
    handler: logging.Handler
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = FileLog(path, maxBytes=10_000_000, backupCount=3, encoding="utf-8")
    except OSError:
        handler = logging.StreamHandler()
        handler.setLevel(logging.WARNING)
        path_or_none: Path | None = None
    else:
        path_or_none = path
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):  # e.g. a stderr handler someone installed
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    return path_or_none
