"""The one rule for times shown to a person, on screen, in the CLI and in alerts.

What happened on this machine -- a halt, a re-arm, a system reading, a risk
rejection, a log line, a job, an alert channel failing -- is shown on the
exchanges' clock, China Standard Time (Asia/Shanghai), labelled ``CST``, whatever
the server's own zone (servers often run in UTC). What happened in the market --
an order, a fill, a quote, the header's clock -- is shown on the market's own
clock (the simulated one in the demo, the recording's in a replay). A pane whose
title names the clock shows bare times; a time inside a sentence carries the label.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

EXCHANGE_TZ = ZoneInfo("Asia/Shanghai")
EXCHANGE_LABEL = "CST"  # China Standard Time: the SSE's and SZSE's clock


def exchange_time(at: datetime) -> datetime:
    """``at`` on the exchanges' clock: a naive time is this server's local time (what
    ``datetime.now()`` gives), an aware one is converted."""
    return at.astimezone(EXCHANGE_TZ)


def cst(at: datetime, fmt: str = "%H:%M:%S") -> str:
    """``at`` on the exchanges' clock with its label: ``10:31:02 CST``."""
    return f"{exchange_time(at):{fmt}} {EXCHANGE_LABEL}"
