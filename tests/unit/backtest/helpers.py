"""Hand-built bars for backtest tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def bars(
    opens: Sequence[float],
    highs: Sequence[float] | None = None,
    lows: Sequence[float] | None = None,
    closes: Sequence[float] | None = None,
) -> pd.DataFrame:
    o = np.asarray(opens, dtype=float)
    frame = pd.DataFrame(
        {
            "open": o,
            "high": o if highs is None else np.asarray(highs, dtype=float),
            "low": o if lows is None else np.asarray(lows, dtype=float),
            "close": o if closes is None else np.asarray(closes, dtype=float),
            "volume": 1e6,
        },
        index=pd.bdate_range("2024-01-02", periods=len(o), name="datetime"),
    )
    return frame


def signals(
    n: int, entries: Sequence[int] = (), exits: Sequence[int] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """One column of entry and exit flags set on the given bars."""
    e, x = np.zeros((n, 1), dtype=bool), np.zeros((n, 1), dtype=bool)
    e[list(entries), 0] = True
    x[list(exits), 0] = True
    return e, x
