"""Validation before every write: each rule is named, failing rows are quarantined.

Row rules (the row goes to quarantine with the rule and a reason):

- ``price_nan``: an open/high/low/close that is missing or not a number
- ``price_nonfinite``: a price that is infinite
- ``price_absurd``: a price above ``MAX_PRICE`` (no listed share costs that much; a
  value like 1e308 is a broken export, not a quote)
- ``price_nonpositive``: a price <= 0
- ``volume_nan``: volume missing, not a number, or infinite
- ``volume_absurd``: volume above ``MAX_VOLUME`` shares in one bar
- ``ohlc``: low <= open, close <= high does not hold (or low > high)
- ``volume_negative``: volume < 0
- ``duplicate``: a second row with the same timestamp (the first is kept)
- ``out_of_order``: a row earlier than the row before it in the input
- ``limit_move``: an A-share daily close beyond the daily price limit from the
  previous close, with no corporate action (adjustment-factor change) that
  day. Exempt: a symbol's first 5 bars (new listings trade without limits).

Series findings (recorded as issues on the symbol, nothing to quarantine):

- ``gap``: trading days of the exchange calendar with no bar, between the
  first and last bar, that the source did not report as suspensions (those
  are recorded as suspensions instead). Daily A-share bars only; skipped,
  with a note, when no calendar is stored.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from services.data.bars import PRICES
from services.data.symbols import is_a_share, split_symbol
from services.instruments import limit_pct_for

LISTING_EXEMPT_BARS = 5
MAX_PRICE = 10_000_000.0  # per share, any currency: far above the dearest listed share
MAX_VOLUME = 1e13  # shares in one bar: far above a whole market's daily turnover
ROW_RULES = (
    "price_nan",
    "price_nonfinite",
    "price_absurd",
    "volume_nan",
    "volume_absurd",
    "price_nonpositive",
    "ohlc",
    "volume_negative",
    "duplicate",
    "out_of_order",
    "limit_move",
)


@dataclass
class Report:
    """What validation found in one batch."""

    clean: pd.DataFrame
    quarantined: pd.DataFrame  # the bad rows, with ``rule`` and ``reason`` columns
    gaps: list[date] = field(default_factory=list)
    suspensions: list[date] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def counts(self) -> Counter[str]:
        return Counter(self.quarantined["rule"]) if len(self.quarantined) else Counter()

    def summary(self) -> str:
        parts = [f"{len(self.clean)} stored"]
        if len(self.quarantined):
            rules = ", ".join(f"{rule} {n}" for rule, n in sorted(self.counts.items()))
            parts.append(f"{len(self.quarantined)} quarantined ({rules})")
        if self.gaps:
            parts.append(f"{len(self.gaps)} gap days")
        if self.suspensions:
            parts.append(f"{len(self.suspensions)} suspension days")
        return "; ".join(parts + self.notes)


def validate(
    frame: pd.DataFrame,
    vt_symbol: str,
    freq: str,
    *,
    previous: pd.DataFrame | None = None,
    factor_dates: set[date] | frozenset[date] = frozenset(),
    calendar: list[date] | None = None,
    suspensions: set[date] | frozenset[date] = frozenset(),
    name: str = "",
    bars_before: int | None = None,
) -> Report:
    """Split ``frame`` (canonical columns) into clean rows and quarantined ones.

    ``previous``: the stored bars just before this batch (for ``limit_move`` and
    ``duplicate`` across batches). ``factor_dates``: days with a corporate action.
    ``bars_before``: how many bars the symbol has before this batch, for the listing
    exemption (default: ``len(previous)``, right only when that is its whole history).
    """
    # numpy, not pandas: a sync validates a row or two per symbol, 1,000 times over
    reasons = np.full(len(frame), "", dtype=object)
    rules = np.full(len(frame), "", dtype=object)

    def flag(mask: np.ndarray, rule: str, why: Any) -> None:
        """Mark rows not yet flagged; ``why``: a reason, or a function of the row positions."""
        new = mask & (rules == "")
        if not new.any():
            return
        rules[new] = rule
        reasons[new] = why(np.flatnonzero(new)) if callable(why) else why

    idx = _dates(frame.index)
    numbers = _numbers(frame)
    prices = numbers[:, :4]
    o, h, lo, c = prices.T
    nan = np.isnan(prices).any(axis=1)
    flag(nan, "price_nan", "an open/high/low/close is missing or not a number")
    infinite = np.isinf(prices).any(axis=1)
    flag(infinite, "price_nonfinite", "a price is infinite")
    absurd = (np.abs(prices) > MAX_PRICE).any(axis=1) & ~infinite
    flag(absurd, "price_absurd", f"a price above {MAX_PRICE:,.0f} per share")
    nan = nan | infinite | absurd  # the rules below compare prices: skip these rows
    nonpos = (prices <= 0).any(axis=1) & ~nan
    flag(nonpos, "price_nonpositive", "a price is zero or negative")
    bad_ohlc = ~nan & ((lo > np.minimum(o, c) + 1e-9) | (h < np.maximum(o, c) - 1e-9) | (lo > h))
    flag(bad_ohlc, "ohlc", lambda rows: _ohlc_reason(frame, rows))
    vol = numbers[:, 4]
    flag(~np.isfinite(vol), "volume_nan", "volume is missing, not a number or infinite")
    flag(vol > MAX_VOLUME, "volume_absurd", f"volume above {MAX_VOLUME:,.0f} shares in a bar")
    flag(vol < 0, "volume_negative", "volume is negative")
    ts = idx.asi8
    earlier = np.zeros(len(ts), dtype=bool)
    if len(ts) > 1:
        running_max = np.maximum.accumulate(ts)
        earlier[1:] = ts[1:] < running_max[:-1]
    flag(earlier, "out_of_order", "earlier than the row before it in the input")
    dup = pd.Index(ts).duplicated(keep="first")  # a repeat within the batch
    if previous is not None and len(previous):
        dup |= np.isin(ts, previous.index.asi8)  # or a timestamp already stored
    flag(dup, "duplicate", "a row with this timestamp is already there")

    report_notes: list[str] = []
    ok = rules == ""
    if freq == "1d" and is_a_share(vt_symbol):
        listed = bars_before if bars_before is not None else _count(previous)
        mask, why = _limit_moves(
            frame, prices[:, 3], ok, vt_symbol, name, previous, factor_dates, listed
        )
        flag(mask, "limit_move", lambda rows: why[rows])
    ok = rules == ""
    if ok.all():  # the common case: no copy, no boolean indexing
        clean, quarantined = frame, _none_quarantined(frame)
    else:
        clean = frame[ok]
        quarantined = frame[~ok].assign(rule=rules[~ok], reason=reasons[~ok])
    gaps: list[date] = []
    susp: list[date] = []
    if freq == "1d" and is_a_share(vt_symbol) and len(clean):
        if calendar:
            gaps, susp = _gaps(clean, previous, calendar, suspensions)
        else:
            report_notes.append("gap check skipped: no exchange calendar stored")
    ordered = clean if clean.index.is_monotonic_increasing else clean.sort_index()
    return Report(ordered, quarantined, gaps, susp, report_notes)


def _numbers(frame: pd.DataFrame) -> np.ndarray:
    """open, high, low, close, volume as one float array, each column looked up once."""
    columns = [frame[c].to_numpy(dtype="float64") for c in (*PRICES, "volume")]
    return np.column_stack(columns)


def _count(frame: pd.DataFrame | None) -> int:
    return 0 if frame is None else len(frame)


def _dates(index: Any) -> pd.DatetimeIndex:
    """``index`` as a DatetimeIndex, without a new object when it already is one."""
    return index if isinstance(index, pd.DatetimeIndex) else pd.DatetimeIndex(index)


_NONE: dict[tuple[Any, ...], pd.DataFrame] = {}  # shared empty frames, never modified


def _none_quarantined(frame: pd.DataFrame) -> pd.DataFrame:
    """An empty quarantine frame with ``frame``'s columns (made once per column set)."""
    key = tuple(frame.columns)
    if key not in _NONE:
        _NONE[key] = frame.iloc[:0].assign(rule="", reason="")
    return _NONE[key]


def _ohlc_reason(frame: pd.DataFrame, rows: np.ndarray) -> list[str]:
    part = frame.iloc[rows]
    return [
        f"low ≤ open, close ≤ high does not hold: o={o} h={h} l={lo} c={c}"
        for o, h, lo, c in zip(part["open"], part["high"], part["low"], part["close"], strict=True)
    ]


def _prev_closes(close: np.ndarray, ok: np.ndarray, previous: pd.DataFrame | None) -> np.ndarray:
    """The previous valid close for each row (NaN for the first)."""
    closes = close.copy()
    closes[~ok] = np.nan
    before = np.nan
    if previous is not None and len(previous):
        before = float(previous["close"].iloc[-1])
    prev = np.concatenate([[before], closes[:-1]])
    valid = ~np.isnan(prev)  # carry the last valid close forward (a forward fill)
    at = np.maximum.accumulate(np.where(valid, np.arange(len(prev)), 0))
    filled: np.ndarray = np.where(valid[at], prev[at], np.nan)
    return filled


def _limit_moves(
    frame: pd.DataFrame,
    close: np.ndarray,
    ok: np.ndarray,
    vt_symbol: str,
    name: str,
    previous: pd.DataFrame | None,
    factor_dates: set[date] | frozenset[date],
    already: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose close is beyond the limit from the previous close, and why."""
    code, _ = split_symbol(vt_symbol)
    pct = limit_pct_for(code, name)
    prev = _prev_closes(close, ok, previous)
    # The exchange rounds the limit price to the fen: allow that rounding.
    beyond = np.abs(close - prev) > prev * pct + 0.011
    exempt = np.arange(len(frame)) + already < LISTING_EXEMPT_BARS
    action = _after_actions(frame, previous, factor_dates)
    mask: np.ndarray = ok & beyond & ~np.isnan(prev) & ~exempt & ~action
    move = (close / prev - 1) * 100
    limit = f"±{pct * 100:.0f}%"
    why = np.array(
        [
            f"close {close[i]:.2f} is {move[i]:+.1f}% from the previous close {prev[i]:.2f}; "
            f"the limit is {limit} and no corporate action explains it"
            if mask[i]
            else ""
            for i in range(len(close))
        ],
        dtype=object,
    )
    return mask, why


def _after_actions(
    frame: pd.DataFrame,
    previous: pd.DataFrame | None,
    factor_dates: set[date] | frozenset[date],
) -> np.ndarray:
    """Bars that are the first the stock traded on or after an ex-date (one inside a
    suspension is carried by the bar it resumes on), or on an ex-date's day itself."""
    days = [d.date() for d in _dates(frame.index)]
    if not factor_dates or not days:
        return np.zeros(len(days), dtype=bool)
    actions = sorted(factor_dates)
    before = None
    if previous is not None and len(previous):
        before = _dates(previous.index)[-1].date()
    out = np.zeros(len(days), dtype=bool)
    for i, day in enumerate(days):
        latest = bisect_right(actions, day) - 1  # the last ex-date on or before this bar
        prior = days[i - 1] if i else before
        out[i] = latest >= 0 and (
            actions[latest] == day or prior is None or actions[latest] > prior
        )
    return out


def _gaps(
    clean: pd.DataFrame,
    previous: pd.DataFrame | None,
    calendar: list[date],
    suspensions: set[date] | frozenset[date],
) -> tuple[list[date], list[date]]:
    have = {d.date() for d in _dates(clean.index)}
    if previous is not None and len(previous):
        have |= {d.date() for d in _dates(previous.index)}
    first, last = min(have), max(have)
    inside = calendar[bisect_left(calendar, first) : bisect_right(calendar, last)]
    missing = [d for d in inside if d not in have]
    return [d for d in missing if d not in suspensions], [d for d in missing if d in suspensions]
