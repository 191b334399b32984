"""The instruments the simulated market lists: real A-share and ETF codes and names.

Exchange rules that orders must respect are part of the instrument: the lot
size (100 shares), the price tick (0.01 CNY for stocks, 0.001 for ETFs) and
the daily price limit (±10 %; ±20 % on ChiNext 300/301 and STAR 688 codes and
their ETFs; ±5 % for ST names). Reference prices are recent closes, rounded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

Kind = Literal["stock", "etf"]


@dataclass(frozen=True)
class Instrument:
    """One listed instrument and the exchange rules for trading it."""

    code: str
    exchange: str  # vnpy Exchange value: "SSE" or "SZSE"
    name: str
    kind: Kind
    ref_price: float
    lot: int = 100
    tick: float = 0.01
    limit_pct: float = 0.10

    @property
    def vt_symbol(self) -> str:
        return f"{self.code}.{self.exchange}"

    @property
    def decimals(self) -> int:
        return max(0, -math.floor(math.log10(self.tick) + 1e-9))

    def round_price(self, price: float) -> float:
        """Round half-up to the price tick, as the exchanges do for limit prices."""
        step = Decimal(str(self.tick))
        return float((Decimal(str(price)) / step).quantize(Decimal(1), ROUND_HALF_UP) * step)

    def limits(self, prev_close: float) -> tuple[float, float]:
        """Today's (limit_down, limit_up) for a previous close."""
        return (
            self.round_price(prev_close * (1 - self.limit_pct)),
            self.round_price(prev_close * (1 + self.limit_pct)),
        )

    def is_on_tick(self, price: float) -> bool:
        return abs(price / self.tick - round(price / self.tick)) < 1e-6


def limit_pct_for(code: str, name: str) -> float:
    """The daily limit of a stock from its board and name."""
    if "ST" in name.upper():
        return 0.05
    if code.startswith(("300", "301", "688", "689")):
        return 0.20
    return 0.10


def _stock(code: str, exchange: str, name: str, price: float) -> Instrument:
    return Instrument(code, exchange, name, "stock", price, limit_pct=limit_pct_for(code, name))


def _etf(code: str, exchange: str, name: str, price: float, limit_pct: float = 0.10) -> Instrument:
    return Instrument(code, exchange, name, "etf", price, tick=0.001, limit_pct=limit_pct)


DEFAULT_UNIVERSE: tuple[Instrument, ...] = (
    _stock("600519", "SSE", "贵州茅台", 1468.00),
    _stock("000858", "SZSE", "五粮液", 118.50),
    _stock("601318", "SSE", "中国平安", 57.20),
    _stock("600036", "SSE", "招商银行", 43.10),
    _stock("000001", "SZSE", "平安银行", 11.52),
    _stock("300750", "SZSE", "宁德时代", 371.00),
    _stock("688981", "SSE", "中芯国际", 118.60),
    _stock("002594", "SZSE", "比亚迪", 96.80),
    _stock("601012", "SSE", "隆基绿能", 19.85),
    _stock("600900", "SSE", "长江电力", 27.90),
    _stock("000333", "SZSE", "美的集团", 72.60),
    _stock("601899", "SSE", "紫金矿业", 29.30),
    _stock("600276", "SSE", "恒瑞医药", 61.40),
    _stock("300059", "SZSE", "东方财富", 26.70),
    _stock("002415", "SZSE", "海康威视", 31.20),
    _etf("510300", "SSE", "沪深300ETF", 4.612),
    _etf("510500", "SSE", "中证500ETF", 7.105),
    _etf("159915", "SZSE", "创业板ETF", 3.118, limit_pct=0.20),
    _etf("588000", "SSE", "科创50ETF", 1.392, limit_pct=0.20),
    _etf("512880", "SSE", "证券ETF", 1.187),
)
"""The simulated market's listing (20 names)."""


def synthetic_universe(count: int) -> tuple[Instrument, ...]:
    """``count`` made-up instruments (codes 9xxxxx) for benchmarks at scale."""
    return tuple(
        _stock(f"{900000 + i:06d}", "SSE", f"SIM{i:04d}", 5.0 + (i * 37) % 200)
        for i in range(count)
    )


def instrument_for(vt_symbol: str, name: str = "") -> Instrument | None:
    """An instrument for any well-formed A-share or ETF symbol (paper mode's watchlist
    reaches beyond the simulated listing): ``600519.SSE``, ``159915.SZSE``, or a bare
    code (6/5 → SSE, 0/3/1 → SZSE). Kind, tick and price limit follow from the code;
    None when it is not such a symbol."""
    vt_symbol = vt_symbol.strip().upper()
    if "." not in vt_symbol:
        vt_symbol += ".SSE" if vt_symbol[:1] in ("5", "6") else ".SZSE"
    known = {i.vt_symbol: i for i in DEFAULT_UNIVERSE}.get(vt_symbol)
    if known is not None:
        return known
    code, _, exchange = vt_symbol.partition(".")
    if len(code) != 6 or not code.isdigit() or exchange not in ("SSE", "SZSE"):
        return None
    etf = code.startswith(("51", "56", "58")) if exchange == "SSE" else code.startswith("15")
    stock = code.startswith(("60", "68")) if exchange == "SSE" else code.startswith(("00", "30"))
    if etf:
        return _etf(
            code, exchange, name or code, 0.0, 0.20 if code.startswith(("588", "159915")) else 0.10
        )
    if stock:
        return _stock(code, exchange, name or code, 0.0)
    return None


class Universe:
    """Look-up of instruments by ``vt_symbol`` or bare code."""

    def __init__(self, instruments: tuple[Instrument, ...]) -> None:
        self._by_vt = {i.vt_symbol: i for i in instruments}
        self._by_code = {i.code: i for i in instruments}
        self.instruments = instruments

    def __len__(self) -> int:
        return len(self._by_vt)

    def __contains__(self, vt_symbol: object) -> bool:
        return vt_symbol in self._by_vt

    def get(self, vt_symbol: str) -> Instrument:
        return self._by_vt[vt_symbol]

    def add(self, inst: Instrument) -> None:
        """List one more instrument (paper mode: a symbol the trader adds)."""
        self._by_vt[inst.vt_symbol] = inst
        self._by_code.setdefault(inst.code, inst)
        self.instruments = (*self.instruments, inst)

    def resolve(self, text: str) -> Instrument | None:
        """The instrument a user typed: ``600519``, ``600519.SSE`` or ``600519.sse``."""
        text = text.strip()
        code, _, exchange = text.partition(".")
        found = self._by_code.get(code)
        if found is None or (exchange and exchange.upper() != found.exchange):
            return None
        return found
