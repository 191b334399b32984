"""AkShare: A-shares (daily, minute, adjustment factors, names, calendar), ETFs,
indexes, Hong Kong and US daily bars.

akshare is imported on first use (about 1 s) and every function is looked up
on the module at call time, so tests replace ``akshare.<function>`` with fakes
that return frames in AkShare's exact format. AkShare reports A-share, ETF and
index volume in lots (手) of 100 shares; bars here are in shares.
"""

from __future__ import annotations

from datetime import date
from types import ModuleType
from typing import Any

import pandas as pd

from services.data.actions import Actions, from_sina
from services.data.adjust import Factors, factors_from_frame
from services.data.bars import AKSHARE_COLUMNS, ENGLISH_COLUMNS, normalize
from services.data.fetch import EmptyResponse, Fetcher
from services.data.symbols import kind_of, split_symbol


def _akshare() -> ModuleType:
    import akshare

    module: ModuleType = akshare
    return module


def _canonical(frame: Any, names: dict[str, str], lots: bool) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise EmptyResponse("the source returned no rows")
    present = {k: v for k, v in names.items() if k in frame.columns}
    stamp = "date" if "date" in present.values() else "datetime"
    if stamp not in present.values() or not {"open", "close"} <= set(present.values()):
        raise ValueError(f"unexpected columns from the source: {list(frame.columns)}")
    renamed = frame.rename(columns=present)
    out = renamed[
        [c for c in ("open", "high", "low", "close", "volume", "amount") if c in renamed.columns]
    ].copy()
    out.index = pd.DatetimeIndex(pd.to_datetime(renamed[stamp], errors="coerce"))
    bars = normalize(out)
    if lots:
        bars["volume"] = bars["volume"] * 100
    return bars


class AkShareSource:
    """History from AkShare, through a Fetcher (timeout, retries, rate limit)."""

    name = "akshare"

    def __init__(self, fetcher: Fetcher) -> None:
        self.fetcher = fetcher

    def bars(self, vt_symbol: str, freq: str, start: date, end: date) -> pd.DataFrame:
        code, _ = split_symbol(vt_symbol)
        kind = kind_of(vt_symbol)
        what = f"{vt_symbol} {freq} {start}..{end}"
        d0, d1 = start.strftime("%Y%m%d"), end.strftime("%Y%m%d")
        m0, m1 = f"{start:%Y-%m-%d} 09:30:00", f"{end:%Y-%m-%d} 15:00:00"

        def fetch() -> pd.DataFrame:
            ak = _akshare()
            if freq == "1m":
                if kind == "stock":
                    raw = ak.stock_zh_a_hist_min_em(
                        symbol=code, start_date=m0, end_date=m1, period="1", adjust=""
                    )
                elif kind == "etf":
                    raw = ak.fund_etf_hist_min_em(
                        symbol=code, start_date=m0, end_date=m1, period="1", adjust=""
                    )
                else:
                    raise ValueError(f"minute bars are not available for {kind} symbols")
                return _canonical(raw, AKSHARE_COLUMNS, lots=True)
            if kind == "stock":
                raw = ak.stock_zh_a_hist(
                    symbol=code, period="daily", start_date=d0, end_date=d1, adjust=""
                )
            elif kind == "etf":
                raw = ak.fund_etf_hist_em(
                    symbol=code, period="daily", start_date=d0, end_date=d1, adjust=""
                )
            elif kind == "index":
                raw = ak.index_zh_a_hist(symbol=code, period="daily", start_date=d0, end_date=d1)
            elif kind == "hk":
                raw = ak.stock_hk_daily(symbol=code, adjust="")
            elif kind == "us":
                raw = ak.stock_us_daily(symbol=code, adjust="")
            else:
                raise ValueError(
                    f"{vt_symbol}: AkShare sync covers A-shares, ETFs, indexes, "
                    "Hong Kong and US stocks; import futures bars from a CSV"
                )
            bars = _canonical(
                raw,
                AKSHARE_COLUMNS if kind in ("stock", "etf", "index") else ENGLISH_COLUMNS,
                lots=kind in ("stock", "etf", "index"),
            )
            bars = bars[(bars.index >= pd.Timestamp(start)) & (bars.index <= pd.Timestamp(end))]
            if bars.empty:
                raise EmptyResponse(f"the source returned no rows for {start}..{end}")
            return bars

        return self.fetcher.call(what, fetch)

    def factors(self, vt_symbol: str) -> Factors:
        if kind_of(vt_symbol) != "stock":
            return []  # ETF, index, HK and US factors are not fetched (documented)
        code, exchange = split_symbol(vt_symbol)
        prefix = "sh" if exchange == "SSE" else "sz"

        def fetch() -> Factors:
            frame = _akshare().stock_zh_a_daily(symbol=f"{prefix}{code}", adjust="hfq-factor")
            if not isinstance(frame, pd.DataFrame) or frame.empty:
                raise EmptyResponse("no adjustment factors")
            return factors_from_frame(frame, "hfq_factor")

        return self.fetcher.call(f"{vt_symbol} adjustment factors", fetch)

    def actions(self, vt_symbol: str) -> Actions:
        if kind_of(vt_symbol) != "stock":
            return []  # as factors: ETF, index, HK and US actions are not fetched
        code, _ = split_symbol(vt_symbol)

        def fetch() -> Actions:
            frame = _akshare().stock_history_dividend_detail(symbol=code, indicator="分红")
            if not isinstance(frame, pd.DataFrame):
                raise EmptyResponse("no dividend table")
            return from_sina(frame) if len(frame) else []  # empty: 暂时没有数据 (none yet)

        return self.fetcher.call(f"{vt_symbol} dividends", fetch)

    def calendar(self) -> list[date]:
        def fetch() -> list[date]:
            frame = _akshare().tool_trade_date_hist_sina()
            if not isinstance(frame, pd.DataFrame) or frame.empty:
                raise EmptyResponse("empty trading calendar")
            return sorted(pd.to_datetime(frame["trade_date"]).dt.date)

        return self.fetcher.call("trading calendar", fetch)

    def names(self) -> dict[str, str]:
        def fetch() -> dict[str, str]:
            frame = _akshare().stock_info_a_code_name()
            if not isinstance(frame, pd.DataFrame) or frame.empty:
                raise EmptyResponse("empty name list")
            return dict(zip(frame["code"].astype(str), frame["name"].astype(str), strict=True))

        return self.fetcher.call("A-share names", fetch)
