"""Calendar arithmetic on day numbers (days since 1970-01-01), compiled for the kernel.

The A-share dividend tax depends on the holding period in calendar months (held up to
one month: 20 %; up to a year: 10 %; longer: none), so the kernel needs "one month
after" a day: civil dates from day numbers and back (Howard Hinnant's algorithms).
"""

from __future__ import annotations

from numba import njit

MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@njit(cache=True)
def civil(day: int) -> tuple[int, int, int]:
    """(year, month, day of month) of day number ``day``."""
    z = day + 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y = yoe + era * 400 + (1 if m <= 2 else 0)
    return y, m, d


@njit(cache=True)
def day_number(y: int, m: int, d: int) -> int:
    """The day number of a civil date."""
    y -= 1 if m <= 2 else 0
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@njit(cache=True)
def add_months(day: int, months: int) -> int:
    """``months`` calendar months after ``day`` (the 31st of a shorter month: its last day)."""
    y, m, d = civil(day)
    m0 = m - 1 + months
    y += m0 // 12
    m = m0 % 12 + 1
    last = MONTH_DAYS[m - 1]
    if m == 2 and (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)):
        last = 29
    return day_number(y, m, min(d, last))


@njit(cache=True)
def dividend_tax_rate(bought: int, sold: int) -> float:
    """The A-share tax rate on dividends of shares bought on day ``bought`` and sold on
    ``sold``: the holding period runs to the day before the sale; held up to one month
    (inclusive) 20 %, up to a year 10 %, longer none (差别化征税)."""
    held_to = sold - 1
    if held_to <= add_months(bought, 1):
        return 0.2
    if held_to <= add_months(bought, 12):
        return 0.1
    return 0.0
