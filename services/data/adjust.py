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
from typing import Literal

import numpy as np
import pandas as pd

from services.data.bars import PRICES

Adjust = Literal["none", "qfq", "hfq"]
ADJUSTS: tuple[Adjust, ...] = ("none", "qfq", "hfq")

Factors = list[tuple[date, float]]  # (ex-date, cumulative hfq factor), ascending


def factor_at(index: pd.DatetimeIndex, factors: Factors) -> np.ndarray:
    """The hfq factor in force at each timestamp of ``index``."""
    if not factors:
        return np.ones(len(index))
    days = np.array([np.datetime64(d, "ns") for d, _ in factors])
    values = np.array([f for _, f in factors], dtype="float64")
    # the last ex-date <= the bar's date (normalize: a minute bar at 09:31 on the ex-date counts)
    positions = np.searchsorted(days, index.normalize().values, side="right") - 1
    out = np.ones(len(index))
    has = positions >= 0
    out[has] = values[positions[has]]
    return out


def adjust(frame: pd.DataFrame, factors: Factors, how: str) -> pd.DataFrame:
    """``frame`` with prices adjusted (a copy; ``none`` returns it unchanged)."""
    if how not in ADJUSTS:
        raise ValueError(f"unknown adjustment {how!r}: expected none, qfq or hfq")
    if how == "none" or not factors:
        return frame
    f = factor_at(pd.DatetimeIndex(frame.index), factors)
    if how == "qfq":
        f = f / factors[-1][1]
    out = frame.copy()
    for column in PRICES:
        out[column] = out[column].to_numpy() * f
    return out


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
