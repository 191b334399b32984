"""Symbols and the kind of instrument they name: ``CODE.EXCHANGE`` in vnpy's style
(``600519.SSE``, ``000001.SZSE``, ``510300.SSE`` an ETF, ``000300.INDEX``, ``00700.HK``,
``AAPL.US``). Plain strings only: the config and the command line use these without
loading pandas (every ``quantdesk`` command starts faster for it).
"""

from __future__ import annotations

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


def is_a_share(vt_symbol: str) -> bool:
    return vt_symbol.rsplit(".", 1)[-1] in ("SSE", "SZSE", "BSE")
