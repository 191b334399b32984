"""The Shanghai and Shenzhen exchanges' sessions: weekdays that are not China's statutory
holidays (the exchanges close on every one of them, and do not open on the weekend days
worked to make up for them).

The holidays come from the ``chinesecalendar`` package (the State Council's yearly
notices, 2004 through 2026 in 1.11): 242 to 244 sessions a year, not 252. Used where
no calendar from a data source is at hand: the demo history's days, and the sessions a
year that A-share backtests annualise by. A year it does not cover yet is weekdays, and
says so through :func:`covered`.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

DEFAULT_SESSIONS = 243.0  # the exchanges' long-run average, for years no calendar covers


@lru_cache(maxsize=64)
def covered(year: int) -> bool:
    """Whether the holiday calendar knows ``year``."""
    from chinese_calendar import is_holiday

    try:
        is_holiday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


@lru_cache(maxsize=64)
def _year(year: int) -> tuple[date, ...]:
    from chinese_calendar import is_holiday

    first, out = date(year, 1, 1), []
    known = covered(year)
    for n in range(366):
        day = first + timedelta(days=n)
        if day.year != year:
            break
        if day.weekday() < 5 and not (known and is_holiday(day)):
            out.append(day)
    return tuple(out)


def sessions(start: date, end: date) -> list[date]:
    """The sessions from ``start`` to ``end`` inclusive."""
    return [d for y in range(start.year, end.year + 1) for d in _year(y) if start <= d <= end]


def sessions_per_year(start: date, end: date) -> float:
    """The sessions a year over the years of ``start``..``end`` that the holiday calendar
    covers (their mean); DEFAULT_SESSIONS when it covers none of them."""
    years = [y for y in range(start.year, end.year + 1) if covered(y)]
    if not years:
        return DEFAULT_SESSIONS
    return sum(len(_year(y)) for y in years) / len(years)
