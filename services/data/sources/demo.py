"""Synthetic history for the demo universe, so backtests work with no network.

Seeded per symbol (the same data on every machine). Daily bars from 2016 to
the day before ``end``, within the daily price limits, with a yearly cash
dividend on stocks (so qfq/hfq differ from raw) and scaled so that the last
close is the instrument's reference price, where the simulated market opens.
Minute bars (09:31-11:30, 13:01-15:00) for the last ``minute_days`` days.
The calendar is the exchanges' (services/data/exchange_calendar.py): holidays are closed.
"""

from __future__ import annotations

import zlib
from datetime import date, timedelta

import numpy as np
import pandas as pd

from services.data.actions import Action, Actions
from services.data.adjust import Factors
from services.data.bars import normalize
from services.data.exchange_calendar import sessions
from services.instruments import DEFAULT_UNIVERSE, Instrument

FIRST_DAY = date(2016, 1, 4)


def on_tick(values: np.ndarray, tick: float) -> np.ndarray:
    """Round half-up to the price tick, vectorised (the exchanges' rounding)."""
    decimals = max(0, -int(np.floor(np.log10(tick) + 1e-9)))
    rounded: np.ndarray = np.round(np.floor(values / tick + 0.5 + 1e-9) * tick, decimals)
    return rounded


DIVIDEND_YIELD = 0.015
EX_MONTH, EX_DAY = 7, 10


class DemoSource:
    """The demo universe's history, computed, deterministic."""

    name = "demo"

    def __init__(
        self,
        end: date,
        minute_days: int = 10,
        instruments: tuple[Instrument, ...] = DEFAULT_UNIVERSE,
    ) -> None:
        self.end = end  # exclusive: history stops the trading day before
        self.minute_days = minute_days
        self.instruments = {i.vt_symbol: i for i in instruments}
        self._daily: dict[str, tuple[pd.DataFrame, Factors, Actions]] = {}
        self._days = pd.DatetimeIndex(  # the exchanges' sessions, holidays left out
            sessions(FIRST_DAY, end - timedelta(days=1)), name="datetime"
        )

    def calendar(self) -> list[date]:
        return [d.date() for d in self._days]

    def names(self) -> dict[str, str]:
        return {i.code: i.name for i in self.instruments.values()}

    def factors(self, vt_symbol: str) -> Factors:
        return self._history(vt_symbol)[1]

    def actions(self, vt_symbol: str) -> Actions:
        """The yearly cash dividends behind the factors: the previous close × the yield."""
        return self._history(vt_symbol)[2]

    def bars(self, vt_symbol: str, freq: str, start: date, end: date) -> pd.DataFrame:
        daily = self._history(vt_symbol)[0]
        frame = self._minutes(vt_symbol, daily) if freq == "1m" else daily
        lo, hi = pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1)
        return frame[(frame.index >= lo) & (frame.index < hi)]

    # -- generation ---------------------------------------------------------------------
    def _history(self, vt_symbol: str) -> tuple[pd.DataFrame, Factors, Actions]:
        if vt_symbol not in self._daily:
            self._daily[vt_symbol] = self._generate(self.instruments[vt_symbol])
        return self._daily[vt_symbol]

    def _generate(self, inst: Instrument) -> tuple[pd.DataFrame, Factors, Actions]:
        rng = np.random.default_rng(zlib.crc32(inst.vt_symbol.encode()))
        days = self._days
        n = len(days)
        cap = inst.limit_pct * 0.9  # stay inside the limit after rounding
        returns = np.clip(rng.normal(0.0003, 0.018, n), -cap, cap)
        close = 10.0 * np.exp(np.cumsum(returns))
        factors: Factors = []
        level = 1.0
        if inst.kind == "stock":  # a yearly cash dividend: raw close drops on the ex-date
            for year in range(days[0].year, days[-1].year + 1):
                i = int(days.searchsorted(pd.Timestamp(year, EX_MONTH, EX_DAY)))
                if not 0 < i < n:
                    continue
                keep = 1 - DIVIDEND_YIELD
                close[i:] *= keep
                level /= keep
                factors.append((days[i].date(), level))
        close *= inst.ref_price / close[-1]
        close = on_tick(close, inst.tick)
        spread = np.abs(rng.normal(0, 0.006, n)) * close
        open_ = on_tick(close * (1 + rng.normal(0, 0.004, n)), inst.tick)
        prev_close = np.concatenate([[close[0]], close[:-1]])
        up = on_tick(prev_close * (1 + inst.limit_pct), inst.tick)
        down = on_tick(prev_close * (1 - inst.limit_pct), inst.tick)
        open_ = np.clip(open_, down, up)
        high = np.minimum(np.maximum(open_, close) + spread, up)
        low = np.maximum(np.minimum(open_, close) - spread, down)
        high, low = on_tick(high, inst.tick), on_tick(low, inst.tick)
        high = np.maximum(high, np.maximum(open_, close))
        low = np.minimum(low, np.minimum(open_, close))
        volume = (rng.lognormal(13, 0.5, n) // inst.lot) * inst.lot
        frame = pd.DataFrame(
            {
                "open": open_,
                "high": high,
                "low": low,
                "close": close,
                "volume": volume,
                "amount": volume * close,
            },
            index=days,
        )
        # The dividend that makes each factor step: the raw close falls from P to P - D on
        # the ex-date, and the factor grows by P / (P - D), so D = P * yield.
        closes = dict(zip(days, np.concatenate([[close[0]], close[:-1]]), strict=True))
        actions = [
            Action(day, round(float(closes[pd.Timestamp(day)]) * DIVIDEND_YIELD, 4))
            for day, _ in factors
        ]
        return normalize(frame), [(FIRST_DAY, 1.0), *factors] if factors else [], actions

    def _minutes(self, vt_symbol: str, daily: pd.DataFrame) -> pd.DataFrame:
        inst = self.instruments[vt_symbol]
        rng = np.random.default_rng(zlib.crc32(f"{vt_symbol}/1m".encode()))
        clock = [
            *pd.timedelta_range("09:31:00", "11:30:00", freq="1min"),
            *pd.timedelta_range("13:01:00", "15:00:00", freq="1min"),
        ]
        frames = []
        for day, bar in daily.tail(self.minute_days).iterrows():
            steps = rng.normal(0, 1, len(clock)).cumsum()
            bridge = steps - np.linspace(0, steps[-1], len(clock))
            path = np.linspace(bar.open, bar.close, len(clock)) + bridge * (bar.high - bar.low) / 8
            path = np.clip(path, bar.low, bar.high)
            path[-1] = bar.close
            price = on_tick(path, inst.tick)
            opens = np.concatenate([[bar.open], price[:-1]])
            volume = np.full(len(clock), (bar.volume / len(clock)) // inst.lot * inst.lot)
            frames.append(
                pd.DataFrame(
                    {
                        "open": opens,
                        "high": np.maximum(opens, price),
                        "low": np.minimum(opens, price),
                        "close": price,
                        "volume": volume,
                        "amount": volume * price,
                    },
                    index=pd.DatetimeIndex([day + t for t in clock], name="datetime"),
                )
            )
        return normalize(pd.concat(frames))
