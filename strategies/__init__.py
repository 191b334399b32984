"""Pure signal functions shared by backtests and the live runner (numpy/pandas only).

Each module exposes ``STRATEGY`` (see ``strategies.base.Strategy``); ``get``
finds one by name.
"""

from __future__ import annotations

from strategies import bollinger, donchian, ma_cross, rsi
from strategies.base import Signals, Strategy

REGISTRY: dict[str, Strategy] = {
    m.STRATEGY.name: m.STRATEGY for m in (ma_cross, bollinger, rsi, donchian)
}

__all__ = ["REGISTRY", "Signals", "Strategy", "get"]


def get(name: str) -> Strategy:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown strategy {name!r}: choose one of {', '.join(sorted(REGISTRY))}"
        ) from None
