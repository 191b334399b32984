"""A-share trading costs: commission with a minimum, stamp duty on sells, transfer fee.

Defaults follow the rates in force since 2023-08-28 (stamp duty 0.05 %, sells
only) and the 0.001 % transfer fee charged on both exchanges. ETFs pay neither
stamp duty nor transfer fee, only commission (still subject to the minimum).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from services.settings import require


@dataclass(frozen=True)
class CostConfig:
    """Costs charged on every paper fill ([costs] in config.toml)."""

    commission_rate: float = 0.00025
    """Broker commission as a fraction of notional, both sides (0.00025 = 2.5 bp)."""
    commission_min: float = 5.0
    """Minimum commission per fill, CNY."""
    stamp_duty_rate: float = 0.0005
    """Stamp duty on stock sells as a fraction of notional (0.0005 = 0.05 %)."""
    transfer_fee_rate: float = 0.00001
    """Exchange transfer fee on stocks, both sides (0.00001 = 0.001 %)."""

    def __post_init__(self) -> None:
        for name in ("commission_rate", "stamp_duty_rate", "transfer_fee_rate"):
            value = getattr(self, name)
            require(0 <= value < 0.01, name, f"must be a fraction between 0 and 0.01, got {value}")
        require(self.commission_min >= 0, "commission_min", "must be >= 0 CNY")


@dataclass(frozen=True)
class Fees:
    """The costs of one fill, in CNY."""

    commission: float
    stamp_duty: float
    transfer_fee: float

    @property
    def total(self) -> float:
        return self.commission + self.stamp_duty + self.transfer_fee


def cents(amount: float) -> float:
    """Round half up to the fen (0.005 -> 0.01), as statements do; the epsilon absorbs
    binary representation (26.145 is stored as 26.14499...)."""
    return math.floor(amount * 100.0 + 0.5 + 1e-7) / 100.0


def fees_for(config: CostConfig, *, is_etf: bool, is_sell: bool, qty: int, price: float) -> Fees:
    """Fees charged on a fill of ``qty`` at ``price``, rounded to the fen."""
    notional = qty * price
    commission = max(notional * config.commission_rate, config.commission_min)
    stamp = 0.0 if is_etf or not is_sell else notional * config.stamp_duty_rate
    transfer = 0.0 if is_etf else notional * config.transfer_fee_rate
    return Fees(cents(commission), cents(stamp), cents(transfer))
