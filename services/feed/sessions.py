"""The A-share trading day in exchange time (Asia/Shanghai), and what the feed does in it.

=============  ===========  ===============================================
phase          hours        the feed
=============  ===========  ===============================================
closed         before 9:15  idles (also weekends and exchange holidays)
open auction   9:15–9:25    polls; quotes show the indicative auction price,
                            nothing matches continuously
pre-open       9:25–9:30    polls; the opening price is set, no matching
continuous     9:30–11:30   polls; paper orders can fill
lunch          11:30–13:00  idles
continuous     13:00–14:57  polls; paper orders can fill
close auction  14:57–15:00  polls; no continuous matching
closed         after 15:00  idles (one last poll picks up the closing auction)
=============  ===========  ===============================================

Holidays come from the stored exchange calendar (``data sync`` writes it):
a weekday that the calendar covers but does not list is a holiday.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from services.clock import EXCHANGE_TZ

OPEN_AUCTION = (time(9, 15), time(9, 25))
PRE_OPEN = (time(9, 25), time(9, 30))
MORNING = (time(9, 30), time(11, 30))
AFTERNOON = (time(13, 0), time(14, 57))
CLOSE_AUCTION = (time(14, 57), time(15, 0))
LAST_POLL = time(15, 1)  # the closing auction's result is published just after 15:00


@dataclass(frozen=True)
class Phase:
    """Where ``at`` falls in the trading day."""

    name: str  # closed | holiday | weekend | open auction | pre-open | continuous | lunch | ...
    polls: bool  # the feed asks the source for quotes
    matches: bool  # continuous matching: paper orders may fill
    until: datetime | None = None  # when this phase ends (None: not today)

    @property
    def auction(self) -> bool:
        return self.name in ("open auction", "close auction")


def exchange_now() -> datetime:
    """The exchange's wall clock, naive (as quote timestamps are)."""
    return datetime.now(EXCHANGE_TZ).replace(tzinfo=None)


class TradingCalendar:
    """Trading days from the store; weekdays past its last stored day."""

    def __init__(self, days: Callable[[], Sequence[date] | None]) -> None:
        self._load = days  # None: cannot be read now (the store is not open): try again later
        self._days: frozenset[date] | None = None
        self._span: tuple[date, date] | None = None

    def refresh(self) -> None:
        """Read the stored calendar again (after a sync); it is read once otherwise."""
        loaded = self._load()
        if loaded is None:
            self._days = self._span = None
            return
        days = sorted(loaded)
        self._days = frozenset(days)
        self._span = (days[0], days[-1]) if days else None

    def is_trading_day(self, day: date) -> bool:
        if self._days is None:
            self.refresh()
        if self._span and self._span[0] <= day <= self._span[1]:
            return day in (self._days or ())
        return day.weekday() < 5


def phase(at: datetime, calendar: TradingCalendar) -> Phase:
    """The phase of the trading day at exchange time ``at``."""
    day = at.date()
    if at.weekday() >= 5:
        return Phase("weekend", polls=False, matches=False)
    if not calendar.is_trading_day(day):
        return Phase("holiday", polls=False, matches=False)
    now = at.time()

    def ends(t: time) -> datetime:
        return datetime.combine(day, t)

    for (start, end), name, matches in (
        (OPEN_AUCTION, "open auction", False),
        (PRE_OPEN, "pre-open", False),
        (MORNING, "continuous", True),
        (AFTERNOON, "continuous", True),
        (CLOSE_AUCTION, "close auction", False),
    ):
        if start <= now < end:
            return Phase(name, polls=True, matches=matches, until=ends(end))
    if MORNING[1] <= now < AFTERNOON[0]:
        return Phase("lunch", polls=False, matches=False, until=ends(AFTERNOON[0]))
    if CLOSE_AUCTION[1] <= now < LAST_POLL:
        return Phase("closing", polls=True, matches=False, until=ends(LAST_POLL))
    if now < OPEN_AUCTION[0]:
        return Phase("before the open", polls=False, matches=False, until=ends(OPEN_AUCTION[0]))
    return Phase("closed", polls=False, matches=False)


def next_poll_after(at: datetime, calendar: TradingCalendar) -> datetime:
    """The next moment the feed should poll, from an idle ``at`` (searching two weeks)."""
    current = phase(at, calendar)
    if current.polls:
        return at
    if current.until is not None:
        return current.until
    day = at.date() + timedelta(days=1)
    for _ in range(14):
        if day.weekday() < 5 and calendar.is_trading_day(day):
            return datetime.combine(day, OPEN_AUCTION[0])
        day += timedelta(days=1)
    return datetime.combine(day, OPEN_AUCTION[0])
