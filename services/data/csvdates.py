"""The dates and times of a CSV file, read exactly or refused (services/data/csvio.py).

- One file, one date format: a file whose first row is ISO (``2022-01-03``) and later
  rows day-first (``04-01-2022``) stored 1 April, 1 May, ... as if they were months.
  Each date's format (year first, compact, day/month, other) is noted with the first
  line it appears on; a second format is refused with both lines named.
- Day and month that could be swapped (``09-03-2022``) are read only when the file
  settles the order (a first part above 12 somewhere); otherwise ``--date-format``.
- Times with a UTC offset (``09:31:00+08:00``) are converted to the market's time zone
  and stored as its wall-clock time, as every bar is; a file that gives an offset on
  some rows and not on others is refused.
- The rows must be spaced as the frequency claims: daily bars at midnight, one a day;
  minute bars within the day (a daily file imported as ``--freq 1m`` stored 20 "minute"
  bars at midnight).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

# a date whose first two parts could each be the day or the month: 09-03-2022, 3/9/22
AMBIGUOUS_RE = re.compile(r"^\s*(\d{1,2})[-/.](\d{1,2})[-/.](\d{2}|\d{4})\b")
FORMATS = (
    ("year first", re.compile(r"^\s*\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?!\d)")),
    ("compact", re.compile(r"^\s*\d{8}(?!\d)")),
    ("day/month", AMBIGUOUS_RE),
)
# a UTC offset after a time of day (09:31:00+08:00, 01:31Z): never a date's own -2022
OFFSET_RE = re.compile(r"\d:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})\s*$")
SUFFIX_RE = re.compile(r"\s*(?:Z|[+-]\d{2}:?\d{2})\s*$")


OTHER = "another format, e.g. a month's name"


class DateError(ValueError):
    """The file's dates cannot be read as one thing; the message names the lines."""


def date_format_of(text: str) -> str:
    for name, pattern in FORMATS:
        if pattern.match(text):
            return name
    return OTHER


class DateFormats:
    """The date formats seen so far in a file, each with its first line and example."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.first: dict[str, tuple[int, str]] = {}  # format -> (line, example)

    def add(self, dates: pd.Series, lines: list[int]) -> None:
        """Note the formats of one chunk's dates (line numbers alongside); DateError when
        a second format appears."""
        if not len(dates):
            return
        values = dates.to_numpy(dtype=object)
        unique, first_at = np.unique(values, return_index=True)
        seen: dict[str, tuple[int, str]] = {}
        for value, at in zip(unique, first_at, strict=True):
            name = date_format_of(str(value))
            if name == OTHER and pd.isna(pd.to_datetime(str(value), errors="coerce")):
                continue  # no date at all: that row is quarantined, the file is not refused
            line = lines[int(at)]
            if name not in seen or line < seen[name][0]:
                seen[name] = (line, str(value))
        for name, found in seen.items():
            if name not in self.first or found[0] < self.first[name][0]:
                self.first[name] = found
        if len(self.first) > 1:
            listed = "; ".join(
                f"line {line}: {example!r} ({name})"
                for name, (line, example) in sorted(self.first.items(), key=lambda i: i[1][0])
            )
            raise DateError(
                f"{self.path}: the dates are in more than one format ({listed}). Nothing was "
                "stored: export the file with one date format, or give --date-format for it"
            )


def scan_day_first(path: Path, encoding: str, column: int) -> bool | None:
    """Whether the file's dates are day-first (True) or month-first (False), read from
    every row's date field (one streaming pass); :class:`DateError` when it cannot tell."""
    day_first = month_first = False
    example = ""
    with path.open(encoding=encoding, newline="") as fh:
        for fields in _rows(fh):
            if len(fields) <= column:
                continue
            m = AMBIGUOUS_RE.match(fields[column])
            if m is None:
                continue
            example = example or fields[column]
            day_first = day_first or int(m.group(1)) > 12
            month_first = month_first or int(m.group(2)) > 12
            if day_first and month_first:
                break
    if not example:
        return None
    if day_first and not month_first:
        return True
    if month_first and not day_first:
        return False
    why = "both orders appear" if day_first else "day-first and month-first readings both fit"
    raise DateError(
        f"{path}: dates like {example!r} are ambiguous ({why}). Say which with "
        "--date-format, e.g. --date-format %d-%m-%Y (day first) or %m-%d-%Y (month first)"
    )


def _rows(fh: Iterable[str]) -> Iterator[list[str]]:
    """The file's rows after the header, streamed; a line the csv module refuses is
    skipped (the reader proper quarantines it)."""
    reader = csv.reader(fh)
    next(reader, None)
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error:
            continue


def timestamps(stamp: pd.Series, lines: list[int], tz: str | None) -> pd.Series:
    """``stamp`` parsed with ``pandas.to_datetime(format="mixed")`` made naive wall-clock
    time: offsets converted to ``tz`` (None: the offset's own wall clock). DateError when
    some rows give an offset and others do not."""
    if not len(stamp):
        return pd.Series([], dtype="datetime64[ns]")
    offsets = stamp.str.contains(OFFSET_RE, na=False).to_numpy()
    if not offsets.any():
        return stamp  # the caller parses these as before
    if not offsets.all():
        naive, aware = lines[int(np.argmin(offsets))], lines[int(np.argmax(offsets))]
        raise DateError(
            f"some times carry a UTC offset and some do not (line {aware}: "
            f"{stamp.iloc[int(np.argmax(offsets))]!r}; line {naive}: "
            f"{stamp.iloc[int(np.argmin(offsets))]!r}): nothing was stored; export them alike"
        )
    when = pd.to_datetime(stamp, errors="coerce", format="mixed", utc=True)
    if tz is None:  # the wall clock the file shows, offset dropped
        return pd.to_datetime(stamp.str.replace(SUFFIX_RE, "", regex=True), errors="coerce")
    return when.dt.tz_convert(tz).dt.tz_localize(None)


def check_spacing(stamps: pd.Index, freq: str) -> str:
    """Why rows at ``stamps`` are not bars of ``freq`` ("" when they may be)."""
    if len(stamps) < 2:
        return ""
    index = pd.DatetimeIndex(stamps)
    midnight = (index == index.normalize()).all()
    days = index.normalize()
    per_day = len(index) / max(1, days.nunique())
    if freq == "1d" and (not midnight or per_day > 1):
        example = index[~(index == days)][0] if not midnight else index[days.duplicated()][0]
        return (
            f"the rows are {per_day:.0f} a day on average with times of day (e.g. {example}): "
            "minute bars, not daily ones; import them with --freq 1m"
        )
    if freq == "1m" and midnight and per_day <= 1:
        return (
            "every row is at midnight, one a day: daily bars, not minute ones; import them "
            "with --freq 1d"
        )
    return ""
