"""What every data source provides, and how symbols map to instrument kinds.

Symbols are vnpy-style ``CODE.EXCHANGE``: ``600519.SSE``, ``000001.SZSE``,
``510300.SSE`` (ETF), ``000300.INDEX`` (a CSI/SSE index), ``00700.HK``,
``AAPL.US``. A source returns canonical bars (see ``services.data.bars``).
"""

from __future__ import annotations

from datetime import date
from typing import Literal, Protocol

import pandas as pd

from services.data.actions import Actions
from services.data.adjust import Factors
from services.data.bars import split_symbol

Kind = Literal["stock", "etf", "index", "hk", "us", "futures"]


class SourceError(RuntimeError):
    """A source could not deliver for one symbol (after retries); the others go on."""

    def __init__(self, what: str, reason: str, offline: bool = False) -> None:
        super().__init__(f"{what}: {reason}")
        self.what = what
        self.reason = reason
        self.offline = offline  # the network, not the data, failed


# vnpy's exchange names (vnpy.trader.constant.Exchange) for the markets quantdesk has
# rules for, besides its own short ones: a symbol imported as ORCL.NASDAQ backtests
# with the US market's rules, 00700.SEHK with Hong Kong's.
US_EXCHANGES = frozenset({"US", "NASDAQ", "NYSE", "AMEX", "ARCA", "BATS", "IEX", "SMART"})
HK_EXCHANGES = frozenset({"HK", "SEHK"})
# Futures exchanges (vnpy's names): their bars import and backtest as a frictionless
# proxy in whole units -- contract size, margin and fees are not modelled (say --fees).
FUTURES_EXCHANGES = frozenset(
    {
        "CFFEX",
        "SHFE",
        "CZCE",
        "DCE",
        "INE",
        "GFEX",
        "EUREX",
        "CME",
        "CBOT",
        "NYMEX",
        "COMEX",
        "ICE",
        "SGX",
        "LME",
        "HKFE",
        "CBOE",
        "OSE",
        "TOCOM",
    }
)


def kind_of(vt_symbol: str) -> Kind:
    """The instrument kind from the code and exchange; ValueError says what is accepted."""
    code, exchange = split_symbol(vt_symbol)
    if exchange == "INDEX":
        return "index"
    if exchange in HK_EXCHANGES:
        return "hk"
    if exchange in US_EXCHANGES:
        return "us"
    if exchange in FUTURES_EXCHANGES:
        return "futures"
    if exchange == "SSE":
        return "etf" if code.startswith(("51", "56", "58")) else "stock"
    if exchange == "SZSE":
        return "etf" if code.startswith(("15", "16")) else "stock"
    raise ValueError(
        f"unsupported exchange in {vt_symbol!r}: use SSE, SZSE, INDEX, HK (or SEHK), US "
        "(or NASDAQ, NYSE, AMEX, ARCA) or a futures exchange (CFFEX, SHFE, DCE, CZCE, "
        "EUREX, CME, ...) -- e.g. 600519.SSE, 000300.INDEX, 00700.HK, ORCL.NASDAQ, FDAX.EUREX"
    )


class Source(Protocol):
    """A provider of history. Methods raise SourceError for a failure of one request."""

    name: str

    def bars(self, vt_symbol: str, freq: str, start: date, end: date) -> pd.DataFrame:
        """Raw (unadjusted) canonical bars in [start, end]."""
        ...

    def factors(self, vt_symbol: str) -> Factors:
        """Cumulative back-adjustment factors by ex-date ([] when none apply)."""
        ...

    def actions(self, vt_symbol: str) -> Actions:
        """Implemented dividends and bonus shares by ex-date ([] when none apply)."""
        ...

    def calendar(self) -> list[date]:
        """The A-share trading calendar (SSE/SZSE share it)."""
        ...

    def names(self) -> dict[str, str]:
        """A-share code → name."""
        ...
