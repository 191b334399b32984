"""Yahoo Finance through yfinance (optional: ``pip install 'quantdesk[yfinance]'``).

Daily bars for US, Hong Kong and A-share symbols. Yahoo's OHLC are
split-adjusted but not dividend-adjusted; the dividend history comes back as
factors implied by ``Adj Close / Close`` (as for Yahoo CSV files). yfinance is
imported on first use and looked up at call time (tests replace it).
"""

from __future__ import annotations

from datetime import date, timedelta
from types import ModuleType

import pandas as pd

from services.data.actions import Actions
from services.data.adjust import Factors, factors_from_adjusted
from services.data.bars import normalize
from services.data.fetch import EmptyResponse, Fetcher
from services.data.symbols import HK_EXCHANGES, US_EXCHANGES, split_symbol

SUFFIX = {"SSE": ".SS", "SZSE": ".SZ", "US": ""}


def _yfinance() -> ModuleType:
    try:
        import yfinance
    except ImportError:
        raise ValueError(
            "the yfinance source needs the optional package: pip install 'quantdesk[yfinance]'"
        ) from None
    module: ModuleType = yfinance
    return module


def ticker_of(vt_symbol: str) -> str:
    """``600519.SSE`` → ``600519.SS``, ``00700.HK`` → ``0700.HK``, ``AAPL.US`` → ``AAPL``."""
    code, exchange = split_symbol(vt_symbol)
    if exchange in HK_EXCHANGES:
        return f"{int(code):04d}.HK"
    if exchange in US_EXCHANGES:
        return code
    if exchange not in SUFFIX:
        raise ValueError(f"yfinance has no symbols for exchange {exchange!r} ({vt_symbol})")
    return code + SUFFIX[exchange]


class YFinanceSource:
    """Daily history from Yahoo Finance."""

    name = "yfinance"

    def __init__(self, fetcher: Fetcher) -> None:
        self.fetcher = fetcher
        self._adjusted: dict[str, Factors] = {}

    def _history(self, vt_symbol: str, start: date, end: date) -> pd.DataFrame:
        ticker = ticker_of(vt_symbol)
        yf = _yfinance()  # fails at once, not after retries, when the extra is missing

        def fetch() -> pd.DataFrame:
            frame = yf.Ticker(ticker).history(
                start=start.isoformat(),
                end=(end + timedelta(days=1)).isoformat(),
                auto_adjust=False,
                actions=False,
            )
            if not isinstance(frame, pd.DataFrame) or frame.empty:
                raise EmptyResponse(f"no rows for {ticker} {start}..{end}")
            return frame

        return self.fetcher.call(f"{vt_symbol} 1d {start}..{end} (yfinance {ticker})", fetch)

    def bars(self, vt_symbol: str, freq: str, start: date, end: date) -> pd.DataFrame:
        if freq != "1d":
            raise ValueError("the yfinance source provides daily bars only")
        frame = self._history(vt_symbol, start, end)
        index = pd.DatetimeIndex(frame.index)
        if index.tz is not None:  # Yahoo stamps days at exchange midnight with a time zone
            index = index.tz_localize(None)
        index = index.normalize()
        bars = frame.rename(columns=str.lower)[["open", "high", "low", "close", "volume"]]
        bars.index = index
        if "Adj Close" in frame.columns:
            self._adjusted[vt_symbol] = factors_from_adjusted(
                index,
                frame["Close"].to_numpy(dtype="float64"),
                frame["Adj Close"].to_numpy(dtype="float64"),
            )
        return normalize(bars)

    def factors(self, vt_symbol: str) -> Factors:
        """From the Adj Close of the last ``bars`` call (Yahoo has no factor endpoint)."""
        return self._adjusted.get(vt_symbol, [])

    def actions(self, vt_symbol: str) -> Actions:
        """Not fetched: US and HK symbols backtest on adjusted prices (qfq) by default."""
        return []

    def calendar(self) -> list[date]:
        return []  # Yahoo has no exchange calendar: the stored one stays

    def names(self) -> dict[str, str]:
        return {}
