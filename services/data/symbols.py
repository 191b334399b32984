"""Symbols and the kind of instrument they name: ``CODE.EXCHANGE`` in vnpy's style
(``600519.SSE``, ``000001.SZSE``, ``510300.SSE`` an ETF, ``000300.INDEX``, ``00700.HK``,
``AAPL.US``). Plain strings only: the config and the command line use these without
loading pandas (every ``quantdesk`` command starts faster for it).
"""

from __future__ import annotations

import re
from typing import Literal

Kind = Literal["stock", "etf", "index", "hk", "us", "futures"]

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


def split_symbol(vt_symbol: str) -> tuple[str, str]:
    """``600519.SSE`` → (``600519``, ``SSE``); raises ValueError with what is expected."""
    code, dot, exchange = vt_symbol.rpartition(".")
    if not dot or not code or not exchange:
        raise ValueError(
            f"symbol {vt_symbol!r} must be CODE.EXCHANGE, e.g. 600519.SSE, 000001.SZSE, ORCL.US"
        )
    return code, exchange


# What a stored symbol may be made of: printable ASCII without brackets, quotes, spaces,
# separators or the characters ArcticDB refuses (* < >). ``[/]`` in a symbol was stored,
# then broke every screen and command that showed it; ESC or a newline in one was a
# traceback. Real codes (600519, BRK-B, ^GSPC, ES=F, IF2412, 00700) all fit.
CODE_RE = re.compile(r"^[A-Za-z0-9^][A-Za-z0-9._\-^=+&!#$%@~]{0,47}$")
EXCHANGE_RE = re.compile(r"^[A-Za-z0-9]{1,16}$")


def check_symbol(vt_symbol: str) -> str:
    """``vt_symbol`` if it is one quantdesk may store, else ValueError saying what a code
    may hold (checked before anything is written, so nothing unshowable is ever stored)."""
    code, exchange = split_symbol(vt_symbol)
    if not CODE_RE.match(code) or not EXCHANGE_RE.match(exchange):
        raise ValueError(
            f"symbol {vt_symbol!r} is not a code quantdesk can store: a code is letters, "
            "digits and . _ - ^ = + & ! # $ % @ ~ (at most 48, no spaces, brackets, quotes or "
            "control characters) and an exchange is letters and digits, e.g. 600519.SSE, "
            "BRK-B.US, ^GSPC.US"
        )
    return vt_symbol


ZONES = {"stock": "Asia/Shanghai", "etf": "Asia/Shanghai", "index": "Asia/Shanghai"}
ZONES |= {"hk": "Asia/Hong_Kong", "us": "America/New_York"}


def market_tz(vt_symbol: str) -> str | None:
    """The time zone whose wall clock a symbol's bars are stored in (None: a futures
    exchange's, whichever it is: a time with an offset keeps the clock it shows)."""
    return ZONES.get(kind_of(vt_symbol))


def is_a_share(vt_symbol: str) -> bool:
    return vt_symbol.rsplit(".", 1)[-1] in ("SSE", "SZSE", "BSE")
