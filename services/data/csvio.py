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

import codecs
import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from services.data.adjust import Factors, factors_from_adjusted
from services.data.bars import AKSHARE_COLUMNS, COLUMNS, ENGLISH_COLUMNS, normalize
from services.data.csvdates import (
    AMBIGUOUS_RE,
    DateError,
    DateFormats,
    scan_day_first,
    timestamps,
)

YAHOO = {"Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"}
TIME_RE = re.compile(r"^\d{1,2}:\d{2}(:\d{2})?$")
# in a field: refused (a NUL, an escape); tab and a quoted line break are whitespace
CONTROL = frozenset(chr(c) for c in (*range(0, 9), 11, 12, *range(14, 32), 127))
FIELD_LIMIT = 1 << 24  # characters in one field; a longer one is a line quarantined
csv.field_size_limit(FIELD_LIMIT)  # the csv module's default (131,072) was a traceback


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


CHUNK_LINES = 200_000  # rows parsed at a time: memory stays near one chunk's worth
Progress = Callable[[int, int], None]  # (bytes read, file size)
# how dates are read: --date-format, day first?, the formats seen so far, the market's zone
Dates = tuple[str | None, bool | None, DateFormats | None, str | None]


def read_csv(
    path: Path,
    mapping: dict[str, str] | None = None,
    a_share: bool = False,
    date_format: str | None = None,
    progress: Progress | None = None,
    chunk_lines: int = CHUNK_LINES,
    tz: str | None = "Asia/Shanghai",
) -> Parsed:
    """Parse ``path`` into canonical bars plus the rows that could not be read.

    The file is read in chunks of ``chunk_lines`` rows, so a large file costs about
    its bars (six float64 columns) plus one chunk, not several times its size;
    ``progress(bytes_read, size)`` is called after each chunk.

    ``date_format`` (strftime codes) reads the date (or datetime) column; without it,
    dates whose day and month could be swapped (``09-03-2022``) are read only when
    the file itself settles the order (a first part above 12 means day-first);
    otherwise :class:`ImportError_` asks for a format. A file whose dates come in more
    than one format is refused with the lines named; times with a UTC offset become
    ``tz``'s wall-clock time (services/data/csvdates.py).
    """
    try:
        return _read(path, mapping, a_share, date_format, progress, chunk_lines, tz)
    except DateError as exc:
        raise ImportError_(str(exc)) from None
    except csv.Error as exc:  # the header itself (the rows are quarantined one by one)
        raise ImportError_(f"{path}: the header cannot be read as CSV ({exc})") from None


def _read(
    path: Path,
    mapping: dict[str, str] | None,
    a_share: bool,
    date_format: str | None,
    progress: Progress | None,
    chunk_lines: int,
    tz: str | None,
) -> Parsed:
    try:
        size = path.stat().st_size
        encoding = _encoding(path)
    except OSError as exc:
        raise ImportError_(f"cannot read {path}: {exc.strerror}") from None
    with path.open(encoding=encoding, newline="") as fh:
        first_line = fh.readline()
        if not first_line.strip():
            raise ImportError_(f"{path} is empty")
        header = [h.strip() for h in next(csv.reader([first_line]))]
        peek = fh.readline()
        first = next(csv.reader([peek])) if peek.strip() else []
        notes: list[str] = []
        if mapping is None and len(first) == len(header) + 1 and TIME_RE.match(first[1].strip()):
            header = [header[0], "Time", *header[1:]]
            notes.append("the header has no time column but rows do: read the 2nd field as time")
        layout, columns = _layout(header, mapping)
        key = "datetime" if "datetime" in columns else "date"
        day_first: bool | None = None
        if date_format is None and first and AMBIGUOUS_RE.match(first[header.index(columns[key])]):
            day_first = scan_day_first(path, encoding, header.index(columns[key]))
        formats = None if date_format else DateFormats(path)  # one format per file
        parts: list[tuple[pd.DataFrame, np.ndarray | None]] = []  # bars, Adj Close
        rejects: list[tuple[int, str, str]] = []
        line_no = 2
        chunk = [peek] if peek else []
        done = len(first_line) + len(peek)  # characters: near enough to bytes for progress

        def flush() -> None:
            nonlocal line_no, chunk
            line_no = _chunk(
                chunk,
                line_no,
                header,
                columns,
                (date_format, day_first, formats, tz),
                layout,
                parts,
                rejects,
            )
            chunk = []

        for line in fh:
            chunk.append(line)
            done += len(line)
            if len(chunk) >= chunk_lines:
                flush()
                if progress is not None:
                    progress(min(done, size), size)
        if chunk:
            flush()
        if progress is not None:
            progress(size, size)
    bars = (
        pd.concat([b for b, _ in parts])
        if parts
        else normalize(pd.DataFrame(columns=list(COLUMNS)))
    )
    rejects.sort()
    factors: Factors = []
    if layout == "yahoo" and len(bars):
        close = bars["close"].to_numpy()
        adjusted = np.concatenate([a for _, a in parts if a is not None])
        factors = factors_from_adjusted(bars.index, close, adjusted)
    if layout == "akshare" and a_share:
        bars["volume"] = bars["volume"] * 100
        notes.append("AkShare volume is in lots of 100: converted to shares")
    reject_frame = pd.DataFrame(rejects, columns=["line", "text", "reason"])
    return Parsed(bars, reject_frame, layout, factors, notes)


def _chunk(
    lines: list[str],
    line_no: int,
    header: list[str],
    columns: dict[str, str],
    dates: Dates,
    layout: str,
    parts: list[tuple[pd.DataFrame, np.ndarray | None]],
    rejects: list[tuple[int, str, str]],
) -> int:
    """Parse one chunk of lines starting at file line ``line_no``; returns the next one.

    pandas' C parser reads a clean chunk (about 10× faster); a chunk with a blank line,
    a quoted line break or a row with the wrong number of fields is read again row by
    row, so that every bad line is quarantined with its number."""
    raw = _fast(lines, header)
    if raw is not None:
        numbers = list(range(line_no, line_no + len(raw)))
    else:
        rows, numbers, bad = _split_rows(lines, len(header), line_no)
        rejects += bad
        raw = pd.DataFrame(rows, columns=header) if rows else pd.DataFrame(columns=header)
    bars, bad_dates = _to_bars(raw, columns, dates, numbers)
    rejects += [
        (numbers[int(i)], ",".join(raw.iloc[int(i)].astype(str)), "timestamp is not a date/time")
        for i in bad_dates
    ]
    adjusted = None
    if layout == "yahoo":  # Adj Close, for the factors (rows with a bad date left out)
        keep = np.ones(len(raw), dtype=bool)
        keep[bad_dates] = False
        adjusted = pd.to_numeric(raw["Adj Close"], errors="coerce").to_numpy()[keep]
    parts.append((bars, adjusted))
    return line_no + len(lines)


def _fast(lines: list[str], header: list[str]) -> pd.DataFrame | None:
    """The chunk as strings through pandas' C parser, or None when it is not clean: every
    line must hold exactly the header's number of fields and no quotes (the C parser
    would pad a short row rather than say so)."""
    commas = len(header) - 1
    text = "".join(lines)
    if '"' in text or "\x00" in text or any(line.count(",") != commas for line in lines):
        return None  # quotes, a NUL (the C parser ends a field there: 99\x00.50 read 99)
    try:
        raw = pd.read_csv(
            io.StringIO(text),
            header=None,
            names=header,
            dtype=str,
            na_filter=False,
            skip_blank_lines=False,
            skipinitialspace=True,
            engine="c",
        )
    except (pd.errors.ParserError, ValueError):
        return None  # a row with too many fields
    if len(raw) != len(lines) or raw.isna().to_numpy().any():
        return None  # a blank line, a short row or a quoted line break: row by row
    if " ," in text or " \n" in text or "\t" in text:  # trailing blanks: strip them
        raw = raw.apply(lambda column: column.str.rstrip())
    return raw


def _encoding(path: Path) -> str:
    """UTF-8 (with or without a BOM), else GBK: AkShare exports saved by Excel on Windows.
    Decided over the whole file in blocks, so a bad byte late in it is not missed."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as fh:
        try:
            while block := fh.read(1 << 24):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gbk"
    return "utf-8-sig"


def _split_rows(
    lines: list[str], width: int, first_line: int = 2
) -> tuple[list[list[str]], list[int], list[tuple[int, str, str]]]:
    """(rows, their line numbers in the file, rejected lines with the reason): a line the
    csv module refuses (a field over FIELD_LIMIT) or one with a NUL or another control
    character in a field is refused on its own; the rest are read."""
    rows: list[list[str]] = []
    numbers: list[int] = []
    rejects: list[tuple[int, str, str]] = []
    source = iter(lines)
    reader = csv.reader(source)
    while True:
        number = first_line + reader.line_num
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            rejects.append((number, lines[number - first_line][:200], f"unreadable: {exc}"))
            continue
        if not fields or all(not f.strip() for f in fields):
            continue
        text = ",".join(fields)
        if len(fields) != width:
            rejects.append((number, text[:200], f"{len(fields)} fields, expected {width}"))
            continue
        bad = next((f for f in fields if not CONTROL.isdisjoint(f)), None)
        if bad is not None:  # 99\x00.50 is no price: never read as 99
            rejects.append((number, text[:200], f"a control character in {bad!r}"))
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


def _to_bars(
    raw: pd.DataFrame, columns: dict[str, str], dates: Dates, lines: list[int]
) -> tuple[pd.DataFrame, np.ndarray]:
    date_format, day_first, formats, tz = dates
    key = "datetime" if "datetime" in columns else "date"
    separate_time = "time" in columns and key == "date"
    if formats is not None:
        formats.add(raw[columns[key]], lines)
    if separate_time:
        stamp = raw[columns["date"]] + " " + raw[columns["time"]]
    else:
        stamp = raw[columns[key]]
    if date_format:
        if separate_time:  # the format is the date's; the time follows it
            when = pd.to_datetime(raw[columns["date"]], errors="coerce", format=date_format)
            clock = raw[columns["time"]].where(
                raw[columns["time"]].str.count(":") != 1, raw[columns["time"]] + ":00"
            )
            when = when + pd.to_timedelta(clock, errors="coerce")
        else:
            when = pd.to_datetime(stamp, errors="coerce", format=date_format)
    else:
        local = timestamps(stamp, lines, tz)  # offsets made the market's wall clock
        if local is stamp:
            when = pd.to_datetime(stamp, errors="coerce", format="mixed", dayfirst=bool(day_first))
        else:
            when = local
    bad = np.flatnonzero(when.isna().to_numpy())
    keep = ~when.isna().to_numpy()
    data = {c: raw[columns[c]] for c in COLUMNS if c in columns}
    frame = pd.DataFrame(data)
    frame.index = pd.DatetimeIndex(when)
    return normalize(frame[keep]), bad
