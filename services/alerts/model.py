"""What an alert is: its kind, severity, words and the key that de-duplicates it.

Kinds are fixed (each is one thing a trader away from the screen must hear of);
each has a default severity that ``[alerts.severity]`` may change. An alert's
``key`` names what it is about (``broker:main``, ``reject:max_order_qty:600519.SSE``):
alerts of one key within ``[alerts] dedupe_s`` are sent once, with a count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from services.clock import cst
from services.ops.redact import redact

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")

KINDS: dict[str, tuple[Severity, str]] = {
    "fill": ("info", "an order filled, partly or wholly"),
    "reject": ("warning", "an order refused by a risk check or by the broker"),
    "halt": ("critical", "trading HALTED (or set to REDUCING), and why"),
    "rearm": ("warning", "trading left HALTED (re-armed, or REDUCING to flatten)"),
    "risk": ("critical", "a limit breached while trading: the account is HALTED"),
    "reconcile": (
        "critical",
        "the broker's account differs from quantdesk's, or could not be read",
    ),
    "broker": ("critical", "a broker gateway dropped or is reconnecting (info when back)"),
    "feed": ("warning", "the quote feed failed, its circuit opened, or quotes went stale"),
    "job": ("warning", "a scheduled job failed"),
    "backup": ("critical", "a backup failed"),
    "system": ("warning", "CPU, memory, disk, bus lag or an alert channel over its limit"),
    "error": ("warning", "a bus handler crashed (the bus went on without it)"),
    "remote": ("warning", "a command from a phone (Telegram) that changed something"),
    "summary": ("info", "the daily summary after the close"),
    "test": ("info", "quantdesk alerts test"),
}


RANK: dict[str, int] = {severity: n for n, severity in enumerate(SEVERITIES)}


def rank(severity: str) -> int:
    """0 info, 1 warning, 2 critical (for "at least this severe")."""
    return RANK[severity]


@dataclass(frozen=True)
class Alert:
    """One thing to tell the trader, wherever they are."""

    kind: str
    severity: Severity
    title: str  # one line: what happened
    body: str  # the detail: values, limits, what was done, what to do
    key: str  # what it is about: alerts of one key are de-duplicated
    at: datetime
    account: str = ""  # the live account it concerns ("" for the mode's own)
    resolves: str = ""  # the key of the trouble this ends (a re-arm ends ``halt:``)

    def __post_init__(self) -> None:
        # What goes to a phone never carries a secret (a job's failure may quote a token).
        object.__setattr__(self, "title", redact(self.title))
        object.__setattr__(self, "body", redact(self.body))


@dataclass(frozen=True)
class ChannelState:
    """A channel's delivery, for the system monitor, ``alerts status`` and the header."""

    name: str
    target: str  # the service, without its secret: "telegram", "email to ..."
    sent: int
    failed: int  # alerts given up on after every retry
    pending: int  # waiting for their first try or a retry
    held: int  # held back by the rate limit, to go out as one digest
    error: str = ""  # the last failure while it is failing ("" while delivering)
    failing_since: datetime | None = None
    retry_in_s: float = 0.0

    def line(self) -> str:
        """``ok · 12 sent`` or ``FAILING since 10:31 · 3 pending · retry in 20 s: HTTP 500``
        (what to know first, the service's words last)."""
        counts = f"{self.sent:,} sent" + (f" · {self.failed:,} failed" if self.failed else "")
        waiting = (f"{self.pending:,} pending · " if self.pending else "") + (
            f"{self.held:,} held (rate) · " if self.held else ""
        )
        if not self.error:
            return f"ok · {waiting}{counts}"
        since = f" since {cst(self.failing_since)}" if self.failing_since else ""
        retry = f" · retry in {self.retry_in_s:.0f} s" if self.retry_in_s > 0 else ""
        return f"FAILING{since} · {waiting}{counts}{retry}: {self.error}"
