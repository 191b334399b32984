"""Corporate actions as a point-in-time account sees them: cash and shares on ex-dates.

Adjustment factors say by how much a price series must be rescaled, not why:
a 10 % factor step is a cash dividend or 送股/转增 alike. An account that
trades raw prices needs the actions themselves -- cash per share paid to
holders on the ex-date, and the shares each held share becomes (1 + bonus +
transfer per share; a 2-for-1 split is 2). Sources deliver them in their own
formats (Sina's table per 10 shares via AkShare, Tushare's ``dividend`` per
share); only implemented actions (实施) with an ex-date count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from services.data.adjust import Factors, adjust


@dataclass(frozen=True)
class Action:
    """One ex-date: ``cash`` per share held before it (before tax, quote currency) and
    ``ratio`` shares after per share before."""

    ex_date: date
    cash: float = 0.0
    ratio: float = 1.0


Actions = list[Action]


def merged(actions: list[Action]) -> Actions:
    """Ascending by ex-date, one action per day (a day's dividend and bonus together)."""
    by_day: dict[date, Action] = {}
    for a in actions:
        if a.cash < 0 or a.ratio <= 0:
            raise ValueError(
                f"a corporate action on {a.ex_date} with cash {a.cash} and ratio {a.ratio}: "
                "cash must be >= 0 and the share ratio > 0"
            )
        if a.cash == 0 and a.ratio == 1:
            continue  # 不分配: nothing happens to a holder
        seen = by_day.get(a.ex_date)
        if seen is None:
            by_day[a.ex_date] = a
        else:
            by_day[a.ex_date] = Action(a.ex_date, seen.cash + a.cash, seen.ratio * a.ratio)
    return [by_day[d] for d in sorted(by_day)]


def to_meta(actions: Actions) -> list[list[Any]]:
    """As stored in a symbol's metadata: [[iso ex-date, cash, ratio], ...]."""
    return [[a.ex_date.isoformat(), float(a.cash), float(a.ratio)] for a in actions]


def from_meta(raw: Any) -> Actions:
    return [Action(date.fromisoformat(d), float(c), float(r)) for d, c, r in raw or []]


def from_sina(frame: pd.DataFrame) -> Actions:
    """AkShare's ``stock_history_dividend_detail(indicator="分红")`` (Sina's table): 送股,
    转增 in shares and 派息 in yuan (before tax), all per 10 shares; 进度 实施 only."""
    need = {"送股", "转增", "派息", "进度", "除权除息日"}
    missing = need - set(frame.columns)
    if missing:
        raise ValueError(f"unexpected dividend table from Sina: missing {sorted(missing)}")
    done = frame[frame["进度"].astype(str).str.strip() == "实施"]
    days = pd.to_datetime(done["除权除息日"], errors="coerce")
    bonus = pd.to_numeric(done["送股"], errors="coerce").fillna(0.0)
    transfer = pd.to_numeric(done["转增"], errors="coerce").fillna(0.0)
    cash = pd.to_numeric(done["派息"], errors="coerce").fillna(0.0)
    return merged(
        [
            Action(d.date(), float(c) / 10, 1 + (float(b) + float(t)) / 10)
            for d, b, t, c in zip(days, bonus, transfer, cash, strict=True)
            if pd.notna(d)
        ]
    )


def from_tushare(frame: pd.DataFrame) -> Actions:
    """Tushare's ``dividend``: ``cash_div_tax`` (before tax) and ``stk_div`` (送股 + 转增)
    per share; ``div_proc`` 实施 only."""
    need = {"div_proc", "stk_div", "cash_div_tax", "ex_date"}
    missing = need - set(frame.columns)
    if missing:
        raise ValueError(f"unexpected dividend rows from Tushare: missing {sorted(missing)}")
    done = frame[frame["div_proc"].astype(str).str.strip() == "实施"]
    days = pd.to_datetime(done["ex_date"], format="%Y%m%d", errors="coerce")
    shares = pd.to_numeric(done["stk_div"], errors="coerce").fillna(0.0)
    cash = pd.to_numeric(done["cash_div_tax"], errors="coerce").fillna(0.0)
    return merged(
        [
            Action(d.date(), float(c), 1 + float(s))
            for d, s, c in zip(days, shares, cash, strict=True)
            if pd.notna(d)
        ]
    )


def per_bar(index: pd.DatetimeIndex, actions: Actions) -> tuple[np.ndarray, np.ndarray]:
    """Cash per share and share ratio on each bar: an action lands on the first bar at or
    after its ex-date (a suspended stock receives it when it trades again)."""
    cash = np.zeros(len(index))
    ratio = np.ones(len(index))
    stamps = index.asi8
    for a in actions:
        i = int(np.searchsorted(stamps, np.datetime64(a.ex_date, "ns").astype("int64")))
        if i < len(index):
            cash[i] += a.cash * ratio[i]  # (two actions on one bar: the later on more shares)
            ratio[i] *= a.ratio
    return cash, ratio


class PitRefused(ValueError):
    """A point-in-time frame cannot be built from what is stored; the message says why."""


def pit_frame(
    vt_symbol: str, raw: pd.DataFrame, factors: Factors, actions: Actions
) -> pd.DataFrame:
    """Bars for a point-in-time backtest: hfq prices for signals (they depend only on
    actions already past), the raw prices a real account trades as ``exec_open`` ...
    ``exec_close``, and the corporate actions per bar as ``div_cash`` (per share) and
    ``share_ratio``. Refused when the factors show actions there is no record of."""
    if factors and not actions:
        raise PitRefused(
            f"{vt_symbol} has {len(factors)} adjustment-factor steps but no "
            "dividend or bonus-share records, so a point-in-time run cannot pay them: "
            f"sync it again (quantdesk data sync --universe {vt_symbol}) or backtest "
            "with --adjust qfq"
        )
    shrink = [a for a in actions if a.ratio < 1]
    if shrink:
        raise PitRefused(
            f"{vt_symbol} had a reverse split on {shrink[0].ex_date} (ratio "
            f"{shrink[0].ratio:g}): point-in-time runs pay only dividends and bonus "
            "shares; backtest it with --adjust qfq"
        )
    out = adjust(raw.copy(), factors, "hfq", inplace=True)
    for column in ("open", "high", "low", "close"):
        out[f"exec_{column}"] = raw[column]
    out["div_cash"], out["share_ratio"] = per_bar(pd.DatetimeIndex(raw.index), actions)
    return out
