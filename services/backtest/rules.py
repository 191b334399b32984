"""Backtest settings ([backtest] in config.toml) and each market's lot and cost rules.

A-shares take their costs from ``[costs]``, the same numbers the paper broker
charges, so a backtest and paper trading agree on what a trade costs. Hong
Kong and US defaults are typical discount-broker rates; all are configurable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from services.accounting.costs import CostConfig
from services.data.symbols import kind_of
from services.instruments import instrument_for
from services.settings import ConfigValueError, require

FLAGS = {
    "init_cash": "--cash",
    "sizing": "--sizing",
    "size": "--size",
    "stop_loss": "--stop-loss",
    "take_profit": "--take-profit",
    "trailing_stop": "--trailing-stop",
    "execute": "--execute",
}

SIZINGS = ("percent", "notional", "quantity")
EXECUTIONS = ("next_open", "close")


def checked_overrides(config: BacktestConfig, overrides: Mapping[str, Any]) -> BacktestConfig:
    """``config`` with a run's overrides, validated by the same rules as config.toml;
    ValueError names the option (``--size: must be > 0``)."""
    unknown = set(overrides) - set(FLAGS)
    if unknown:
        raise ValueError(f"unknown backtest settings {sorted(unknown)}")
    for key, value in overrides.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{FLAGS[key]}: expected a finite number, got {value}")
    try:
        return replace(config, **overrides)
    except ConfigValueError as exc:
        raise ValueError(f"{FLAGS.get(exc.key, exc.key)}: {exc.detail}") from None


@dataclass(frozen=True)
class BacktestConfig:
    """Defaults for backtests; the CLI and the backtests pane override them per run."""

    init_cash: float = 1_000_000.0
    """Starting cash of every backtest (per portfolio, shared by its symbols)."""
    trading_days: float = 0
    """Trading days per year, for annualised metrics (not vectorbt's 365); 0: the
    market's own -- an A-share run counts the exchanges' sessions a year over its years
    (242-244: services/data/exchange_calendar.py), any other 252."""
    minute_bars_per_day: int = 240
    """Bars per trading day for minute data (A-shares trade 4 hours)."""
    execute: str = "next_open"
    """When a signal on bar t fills: "next_open" (bar t+1's open) or "close" (bar t's close)."""
    sizing: str = "percent"
    """How much to buy on an entry: "percent" of equity, "notional" (cash) or "quantity"."""
    size: float = 1.0
    """The amount for the sizing: 1.0 = 100 % of equity, 50000 CNY, or 1000 shares."""
    stop_loss: float = 0.0
    """Exit when the price falls this fraction below the entry (0.05 = 5 %; 0 = off)."""
    take_profit: float = 0.0
    """Exit when the price rises this fraction above the entry (0 = off)."""
    trailing_stop: float = 0.0
    """Exit when the price falls this fraction below the highest high since entry (0 = off)."""
    hk_lot: int = 100
    """Hong Kong board lot (it varies by stock: 100 for most, 500 for Tencent's 00700)."""
    hk_commission_rate: float = 0.0003
    """Hong Kong commission as a fraction of notional, both sides."""
    hk_commission_min: float = 3.0
    """Hong Kong minimum commission per order, HKD."""
    hk_stamp_duty_rate: float = 0.001
    """Hong Kong stamp duty, charged on buys and on sells (0.1 %)."""
    hk_exchange_fee_rate: float = 0.0000857
    """Hong Kong trading fee, SFC levy and FRC levy together, both sides."""
    us_commission_rate: float = 0.0
    """US commission as a fraction of notional (0 at most retail brokers)."""
    us_commission_min: float = 0.0
    """US minimum commission per order, USD."""
    us_sec_fee_rate: float = 0.0000278
    """US SEC fee on sells as a fraction of notional."""
    warm_at_start: bool = True
    """The console compiles the backtest engine in the background when it starts with a
    cold cache (after an install or upgrade), at low priority, so the first backtest
    starts at once instead of compiling for a minute or more."""
    max_combinations: int = 20_000
    """A larger sweep is refused unless confirmed (--large-grid, or the screen's prompt):
    its signals alone take bars × combinations × 2 bytes."""

    def __post_init__(self) -> None:
        require(self.init_cash > 0, "init_cash", "must be > 0")
        require(
            self.trading_days == 0 or 1 <= self.trading_days <= 366,
            "trading_days",
            "must be 0 (the market's own) or between 1 and 366",
        )
        require(self.minute_bars_per_day >= 1, "minute_bars_per_day", "must be >= 1")
        require(self.execute in EXECUTIONS, "execute", f"must be one of {', '.join(EXECUTIONS)}")
        require(self.sizing in SIZINGS, "sizing", f"must be one of {', '.join(SIZINGS)}")
        require(self.size > 0, "size", "must be > 0")
        if self.sizing == "percent":
            require(
                self.size <= 1, "size", "a percent sizing is a fraction of equity, 0 < size <= 1"
            )
        for name in ("stop_loss", "take_profit", "trailing_stop"):
            value = getattr(self, name)
            require(0 <= value < 10, name, f"must be a fraction >= 0 (0 = off), got {value}")
        require(self.hk_lot >= 1, "hk_lot", "must be >= 1")
        require(self.max_combinations >= 1, "max_combinations", "must be >= 1")
        for name in (
            "hk_commission_rate",
            "hk_stamp_duty_rate",
            "hk_exchange_fee_rate",
            "us_commission_rate",
            "us_sec_fee_rate",
        ):
            value = getattr(self, name)
            require(0 <= value < 0.01, name, f"must be a fraction between 0 and 0.01, got {value}")
        for name in ("hk_commission_min", "us_commission_min"):
            require(getattr(self, name) >= 0, name, "must be >= 0")


@dataclass(frozen=True)
class MarketRules:
    """Lot and costs for one symbol; ``row()`` is the kernel's per-symbol cost row."""

    market: str
    lot: int
    commission_rate: float
    commission_min: float
    stamp_duty_buy: float
    stamp_duty_sell: float
    transfer_fee_rate: float
    limit_pct: float = 0.0  # the daily price limit (A-shares): sealed limit bars cannot fill
    tick: float = 0.01

    def row(self) -> list[float]:
        return [
            float(self.lot),
            self.commission_rate,
            self.commission_min,
            self.stamp_duty_buy,
            self.stamp_duty_sell,
            self.transfer_fee_rate,
            1.0 if self.dividend_tax else 0.0,
            self.limit_pct,
            self.tick,
        ]

    @property
    def dividend_tax(self) -> bool:
        """A-share dividends are taxed by holding period (差别化征税); the kernel pays net."""
        return self.market == "A-share stock"


def rules_for(
    vt_symbol: str,
    config: BacktestConfig,
    costs: CostConfig,
    fees: float | None = None,
    name: str = "",
) -> MarketRules:
    """The rules of ``vt_symbol``'s market; ``fees`` replaces the commission rate if given;
    ``name`` decides an A-share's daily limit (ST names: 5 %)."""
    kind = kind_of(vt_symbol)
    inst = instrument_for(vt_symbol, name) if kind in ("stock", "etf") else None
    limit_pct, tick = (inst.limit_pct, inst.tick) if inst is not None else (0.0, 0.01)
    if kind == "stock":
        rules = MarketRules(
            "A-share stock",
            100,
            costs.commission_rate,
            costs.commission_min,
            0.0,
            costs.stamp_duty_rate,
            costs.transfer_fee_rate,
            limit_pct,
            tick,
        )
    elif kind == "etf":
        rules = MarketRules(
            "A-share ETF",
            100,
            costs.commission_rate,
            costs.commission_min,
            0.0,
            0.0,
            0.0,
            limit_pct,
            tick,
        )
    elif kind == "hk":
        rules = MarketRules(
            "Hong Kong",
            config.hk_lot,
            config.hk_commission_rate,
            config.hk_commission_min,
            config.hk_stamp_duty_rate,
            config.hk_stamp_duty_rate,
            config.hk_exchange_fee_rate,
        )
    elif kind == "us":
        rules = MarketRules(
            "US",
            1,
            config.us_commission_rate,
            config.us_commission_min,
            0.0,
            config.us_sec_fee_rate,
            0.0,
        )
    elif kind == "futures":  # contract size, margin and fees are not modelled
        rules = MarketRules(
            "futures (frictionless proxy: no contract size, margin or fees; --fees sets a rate)",
            1,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
        )
    else:  # an index cannot be traded: a frictionless proxy in whole units
        rules = MarketRules("index (not tradable: no costs)", 1, 0.0, 0.0, 0.0, 0.0, 0.0)
    if fees is not None:
        if not 0 <= fees < 0.1:
            raise ValueError(f"--fees is a fraction of notional (0.0003 = 3 bp), got {fees}")
        rules = replace(rules, commission_rate=fees)
    return rules
