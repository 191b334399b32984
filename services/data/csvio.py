"""CSV files the user already has → canonical bars.

Recognised layouts (by header):

- Yahoo: ``Date,Open,High,Low,Close,Adj Close,Volume``. Prices are stored as
  given; ``Adj Close / Close`` becomes adjustment factors (a change of that
  ratio is a corporate action). ``--adjust qfq`` then equals Adj Close up to
  one constant: Yahoo adjusts to its download date, qfq to the last bar.
- AkShare: Chinese headers ``日期 开盘 收盘 最高 最低 成交量 成交额`` (others
  ignored). AkShare gives A-share volume in lots (手) of 100: converted to shares.
- Minute bars with a separate time column: ``Date,Time,Open,...``, and files
  whose header omits the time field although every row has it after the date.
- Anything else with ``--map datetime=COL,open=COL,...`` (or ``date=``/``time=``).

Rows that cannot be parsed (wrong number of fields, a date that is not one)
are returned with the reason, to be quarantined, never dropped.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from services.data.adjust import Factors, factors_from_adjusted
from services.data.bars import AKSHARE_COLUMNS, COLUMNS, ENGLISH_COLUMNS, normalize

YAHOO = {"Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"}
TIME_RE = re.compile(r"^\d{1,2}:\d{2}(:\d{2})?$")
# a date whose first two parts could each be the day or the month: 09-03-2022, 3/9/22
AMBIGUOUS_RE = re.compile(r"^\s*(\d{1,2})[-/.](\d{1,2})[-/.](\d{2}|\d{4})\b")


class ImportError_(ValueError):
    """The file cannot be imported as a whole; the message says why and what to do."""


@dataclass
class Parsed:
    bars: pd.DataFrame  # canonical columns
    rejects: pd.DataFrame  # line, text, reason
    layout: str
    factors: Factors = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def parse_mapping(text: str) -> dict[str, str]:
    """``datetime=Date,open=O`` → {"datetime": "Date", "open": "O"}."""
    mapping: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        target, eq, source = part.partition("=")
        if not eq or target.strip() not in {*COLUMNS, "datetime", "date", "time"}:
            raise ImportError_(
                f"bad --map entry {part!r}: expected FIELD=COLUMN with FIELD one of "
                "datetime, date, time, open, high, low, close, volume, amount"
            )
        mapping[target.strip()] = source.strip()
    return mapping


def read_csv(
    path: Path,
    mapping: dict[str, str] | None = None,
    a_share: bool = False,
    date_format: str | None = None,
) -> Parsed:
    """Parse ``path`` into canonical bars plus the rows that could not be read.

    ``date_format`` (strftime codes) reads the date (or datetime) column; without it,
    dates whose day and month could be swapped (``09-03-2022``) are read only when
    the file itself settles the order (a first part above 12 means day-first);
    otherwise :class:`ImportError_` asks for a format.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = path.read_text(encoding="gbk")  # AkShare exports opened in Excel on Windows
    except OSError as exc:
        raise ImportError_(f"cannot read {path}: {exc.strerror}") from None
    lines = text.splitlines()
    if not lines:
        raise ImportError_(f"{path} is empty")
    header = [h.strip() for h in next(csv.reader([lines[0]]))]
    first = next(csv.reader([lines[1]])) if len(lines) > 1 else []
    notes: list[str] = []
    if mapping is None and len(first) == len(header) + 1 and TIME_RE.match(first[1].strip()):
        header = [header[0], "Time", *header[1:]]
        notes.append("the header has no time column but rows do: read the 2nd field as time")
    rows, numbers, rejects = _split_rows(lines[1:], len(header))
    raw = pd.DataFrame(rows, columns=header) if rows else pd.DataFrame(columns=header)
    layout, columns = _layout(header, mapping)
    bars, bad_dates = _to_bars(raw, columns, date_format, path)
    rejects += [
        (numbers[int(i)], ",".join(rows[int(i)]), "timestamp is not a date/time") for i in bad_dates
    ]
    rejects.sort()
    factors: Factors = []
    if layout == "yahoo":
        factors = _yahoo_factors(raw, bars.index, bad_dates)
    if layout == "akshare" and a_share:
        bars["volume"] = bars["volume"] * 100
        notes.append("AkShare volume is in lots of 100: converted to shares")
    reject_frame = pd.DataFrame(rejects, columns=["line", "text", "reason"])
    return Parsed(bars, reject_frame, layout, factors, notes)


def _split_rows(
    lines: list[str], width: int
) -> tuple[list[list[str]], list[int], list[tuple[int, str, str]]]:
    """(rows, their line numbers in the file, rejected lines with the reason)."""
    rows: list[list[str]] = []
    numbers: list[int] = []
    rejects: list[tuple[int, str, str]] = []
    for number, fields in enumerate(csv.reader(io.StringIO("\n".join(lines))), start=2):
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) != width:
            rejects.append((number, ",".join(fields), f"{len(fields)} fields, expected {width}"))
            continue
        rows.append([f.strip() for f in fields])
        numbers.append(number)
    return rows, numbers, rejects


def _layout(header: list[str], mapping: dict[str, str] | None) -> tuple[str, dict[str, str]]:
    """(layout name, {canonical field: file column})."""
    if mapping:
        missing = [c for c in mapping.values() if c not in header]
        if missing:
            raise ImportError_(f"--map names columns not in the file: {missing}; it has {header}")
        return "mapped", mapping
    if set(header) >= YAHOO:
        return "yahoo", {
            "date": "Date",
            "open": "Open",
            "high": "High",
            "low": "Low",
            "close": "Close",
            "volume": "Volume",
        }
    if {"日期", "开盘", "收盘"} <= set(header) or {"时间", "开盘", "收盘"} <= set(header):
        return "akshare", {AKSHARE_COLUMNS[h]: h for h in header if h in AKSHARE_COLUMNS}
    lowered = {h.lower().replace(" ", ""): h for h in header}
    columns = {ENGLISH_COLUMNS[k]: h for k, h in lowered.items() if k in ENGLISH_COLUMNS}
    if {"open", "high", "low", "close"} <= set(columns) and (
        "datetime" in columns or "date" in columns
    ):
        return ("minute" if "time" in columns else "generic"), columns
    raise ImportError_(
        f"unrecognised columns {header}: expected Yahoo (Date,Open,High,Low,Close,Adj Close,"
        "Volume), AkShare (日期,开盘,收盘,最高,最低,成交量,...), Date[,Time],Open,High,Low,Close,"
        "Volume, or pass --map datetime=COL,open=COL,high=COL,low=COL,close=COL,volume=COL"
    )


def _day_first(dates: pd.Series, path: Path) -> bool | None:
    """Whether ``dates`` are day-first (True), month-first (False) or unambiguous (None);
    :class:`ImportError_` when the file cannot tell."""
    parts = dates.astype(str).str.extract(AMBIGUOUS_RE)
    parts = parts.dropna()
    if not len(parts):
        return None  # ISO (2022-03-09), 20220309, or with a month name: no doubt
    first, second = parts[0].astype(int), parts[1].astype(int)
    day_first, month_first = bool((first > 12).any()), bool((second > 12).any())
    example = str(dates.iloc[int(parts.index[0])]) if len(dates) else ""
    if day_first and not month_first:
        return True
    if month_first and not day_first:
        return False
    why = "both orders appear" if day_first else "day-first and month-first readings both fit"
    raise ImportError_(
        f"{path}: dates like {example!r} are ambiguous ({why}). Say which with "
        "--date-format, e.g. --date-format %d-%m-%Y (day first) or %m-%d-%Y (month first)"
    )


def _to_bars(
    raw: pd.DataFrame, columns: dict[str, str], date_format: str | None, path: Path
) -> tuple[pd.DataFrame, np.ndarray]:
    key = "datetime" if "datetime" in columns else "date"
    if "time" in columns and key == "date":
        stamp = raw[columns["date"]] + " " + raw[columns["time"]]
    else:
        stamp = raw[columns[key]]
    if date_format:
        if stamp is not raw[columns[key]]:  # the format is the date's; the time follows it
            when = pd.to_datetime(raw[columns["date"]], errors="coerce", format=date_format)
            clock = raw[columns["time"]].where(
                raw[columns["time"]].str.count(":") != 1, raw[columns["time"]] + ":00"
            )
            when = when + pd.to_timedelta(clock, errors="coerce")
        else:
            when = pd.to_datetime(stamp, errors="coerce", format=date_format)
    else:
        first = _day_first(raw[columns[key]], path)
        when = pd.to_datetime(stamp, errors="coerce", format="mixed", dayfirst=bool(first))
    bad = np.flatnonzero(when.isna().to_numpy())
    keep = ~when.isna().to_numpy()
    data = {c: raw[columns[c]] for c in COLUMNS if c in columns}
    frame = pd.DataFrame(data)
    frame.index = pd.DatetimeIndex(when)
    return normalize(frame[keep]), bad


def _yahoo_factors(raw: pd.DataFrame, index: pd.DatetimeIndex, bad: np.ndarray) -> Factors:
    keep = np.ones(len(raw), dtype=bool)
    keep[bad] = False
    close = pd.to_numeric(raw["Close"], errors="coerce").to_numpy()[keep]
    adjusted = pd.to_numeric(raw["Adj Close"], errors="coerce").to_numpy()[keep]
    return factors_from_adjusted(index, close, adjusted)
