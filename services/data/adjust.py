"""Forward (前复权, qfq) and back (后复权, hfq) adjustment, computed on read.

Raw bars are stored once; corporate actions are stored as cumulative
back-adjustment factors keyed by ex-date (``f`` applies from that date until
the next one; before the first ex-date the factor is 1). Then

- hfq price = raw × f(t)            (history fixed, today's prices grow)
- qfq price = raw × f(t) / f(last)  (today's prices are real, history scaled)

so a new dividend appends one factor and never rewrites stored history.
Volume and amount are left unadjusted.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd

from services.data.bars import PRICES

Adjust = Literal["none", "qfq", "hfq"]
ADJUSTS: tuple[Adjust, ...] = ("none", "qfq", "hfq")

Factors = list[tuple[date, float]]  # (ex-date, cumulative hfq factor), ascending


def adjust(
    frame: pd.DataFrame, factors: Factors, how: str, *, inplace: bool = False
) -> pd.DataFrame:
    """``frame`` with prices adjusted (``none`` returns it unchanged).

    Works per ex-date segment: a binary search per factor and one multiply per
    segment and price column, so 2 M minute bars adjust in a few milliseconds.
    ``inplace``: the caller owns ``frame`` (a fresh read), skip the copy.
    """
    if how not in ADJUSTS:
        raise ValueError(f"unknown adjustment {how!r}: expected none, qfq or hfq")
    if how == "none" or not factors or not len(frame):
        return frame
    out = frame if inplace else frame.copy()
    runs = segments(pd.DatetimeIndex(frame.index).asi8, factors, how)
    for column in PRICES:
        values = out[column].to_numpy(copy=False)
        shared = values.flags.writeable  # a view into the frame: edit it where it lies
        if not shared:
            values = values.copy()
        for lo, hi, multiplier in runs:
            if multiplier != 1.0:
                values[lo:hi] *= multiplier
        if not shared:
            out[column] = values
    return out


def segments(stamps: np.ndarray, factors: Factors, how: str) -> list[tuple[int, int, float]]:
    """(start, stop, multiplier) runs of sorted ``stamps`` (ns) between ex-dates: f(t) for
    hfq, f(t) / f(last) for qfq. One binary search per factor."""
    days = np.array([np.datetime64(d, "ns").astype("int64") for d, _ in factors], dtype="int64")
    return segments_at(stamps, days, [float(f) for _, f in factors], how)


def segments_at(
    stamps: np.ndarray, days: np.ndarray, levels: list[float], how: str
) -> list[tuple[int, int, float]]:
    """segments() with the ex-dates already as ns stamps (``days``) and their ``levels``."""
    if not len(levels) or how == "none":
        return [(0, len(stamps), 1.0)] if len(stamps) else []
    scale = levels[-1] if how == "qfq" else 1.0
    # Ex-dates are midnight, so every bar of that day sorts at or after its ex-date.
    cuts = np.searchsorted(stamps, days, side="left")
    bounds = [0, *cuts.tolist(), len(stamps)]
    return [
        (lo, hi, level / scale)
        for lo, hi, level in zip(bounds[:-1], bounds[1:], [1.0, *levels], strict=True)
        if hi > lo
    ]


def factor_rows(factors: Factors) -> list[list[Any]]:
    """As stored in metadata: [[iso ex-date, factor]]; plain floats, since numpy ones would
    make ArcticDB pickle the metadata (and warn)."""
    return [[d.isoformat(), float(f)] for d, f in factors]


def factors_from_frame(frame: pd.DataFrame, column: str) -> Factors:
    """AkShare-style factor frame (``date``, ``hfq_factor``) → ascending (date, factor)."""
    values = pd.to_numeric(frame[column], errors="coerce")
    days = pd.to_datetime(frame["date"], errors="coerce")
    pairs = sorted(
        (d.date(), float(v))
        for d, v in zip(days, values, strict=True)
        if pd.notna(d) and pd.notna(v) and v > 0
    )
    out: Factors = []
    for d, v in pairs:  # keep only changes: consecutive equal factors say nothing new
        if not out or abs(out[-1][1] - v) > 1e-12:
            out.append((d, v))
    return out


FACTOR_TOLERANCE = 2e-5  # adjusted prices are rounded: smaller ratio changes are noise


def factors_from_adjusted(
    index: pd.DatetimeIndex, close: np.ndarray, adjusted: np.ndarray
) -> Factors:
    """Factors implied by a vendor's adjusted close (Yahoo's Adj Close): every change of
    ``adjusted / close`` beyond rounding is a corporate action on that day."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = adjusted / close
    factors: Factors = []
    base = None
    for i in np.argsort(index.asi8, kind="stable"):
        r = ratio[i]
        if not np.isfinite(r) or r <= 0:
            continue
        if base is None:
            base = r
            factors.append((index[i].date(), 1.0))
            continue
        level = float(r / base)
        if abs(level / factors[-1][1] - 1) > FACTOR_TOLERANCE:
            factors.append((index[i].date(), level))
    return factors if len(factors) > 1 else []
