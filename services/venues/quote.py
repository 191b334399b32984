"""One instrument's top of book: what the simulator produces and the live feed parses.

The paper broker matches against it and the gateways turn it into vnpy's
``TickData``; neither cares whether it came from the simulator, a poll of a
quote source or a recording.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Quote:
    """The top of book of one instrument at ``at`` (exchange time)."""

    vt_symbol: str
    at: datetime
    last: float
    prev_close: float
    open: float
    high: float
    low: float
    bid: float  # 0 when nobody bids (limit down)
    ask: float  # 0 when nobody offers (limit up)
    bid_volume: int
    ask_volume: int
    volume: int  # shares traded today
    turnover: float
    limit_up: float
    limit_down: float
    name: str = ""
    suspended: bool = False  # no trading today: the source says so, or nothing has traded

    @property
    def sealed_up(self) -> bool:
        """At limit-up with nobody offering: a buy cannot fill."""
        return self.last >= self.limit_up > 0 and not (self.ask and self.ask_volume)

    @property
    def sealed_down(self) -> bool:
        """At limit-down with nobody bidding: a sell cannot fill."""
        return 0 < self.last <= self.limit_down and not (self.bid and self.bid_volume)
