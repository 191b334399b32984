"""The canonical bar frame every source, import and read agrees on.

A DatetimeIndex named ``datetime`` (exchange-local, tz-naive; dates at
midnight for daily bars), ascending and unique once validated, and float64
columns ``open high low close volume amount``. Volume is in shares (AkShare
reports A-share volume in lots of 100: sources convert). ``amount`` is the
traded value in the quote currency, NaN when the source has none.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd

Freq = Literal["1d", "1m"]
FREQS: tuple[Freq, ...] = ("1d", "1m")
COLUMNS = ("open", "high", "low", "close", "volume", "amount")
ENGLISH_COLUMNS = {  # lower-cased English headers (CSV files, sina frames)
    "date": "date",
    "time": "time",
    "datetime": "datetime",
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "volume": "volume",
    "amount": "amount",
    "turnover": "amount",
}
AKSHARE_COLUMNS = {  # AkShare's Chinese column names (daily: 日期, minute: 时间)
    "日期": "date",
    "时间": "datetime",
    "开盘": "open",
    "收盘": "close",
    "最高": "high",
    "最低": "low",
    "成交量": "volume",
    "成交额": "amount",
}
PRICES = ("open", "high", "low", "close")


def library_for(freq: str) -> str:
    """The ArcticDB library that holds bars of ``freq``."""
    if freq not in FREQS:
        raise ValueError(f"unknown frequency {freq!r}: expected one of {', '.join(FREQS)}")
    return f"bars_{freq}"


def empty() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in COLUMNS})
    frame.index = pd.DatetimeIndex([], name="datetime")
    return frame


def normalize(frame: pd.DataFrame) -> pd.DataFrame:
    """Coerce a frame with the canonical column names to the canonical types.

    Values that are not numbers become NaN (and are then quarantined by
    validation with the rule ``price_nan``), never silently dropped.
    """
    out = pd.DataFrame(index=pd.DatetimeIndex(pd.to_datetime(frame.index), name="datetime"))
    for column in COLUMNS:
        if column in frame.columns:
            out[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64").values
        else:
            out[column] = float("nan")
    return out
