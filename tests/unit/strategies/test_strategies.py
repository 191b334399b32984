"""Every strategy against a hand-built series whose crossings are worked out by hand,
and the property the live runner depends on: no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import strategies
from strategies.rsi import rsi


def bars(closes: list[float]) -> pd.DataFrame:
    c = pd.Series(closes, dtype=float, index=pd.bdate_range("2026-01-05", periods=len(closes)))
    return pd.DataFrame({"open": c, "high": c, "low": c, "close": c, "volume": 100.0})


def where(mask: pd.Series) -> list[int]:
    return [int(i) for i in np.flatnonzero(mask.to_numpy())]


def test_ma_cross_by_hand() -> None:
    # SMA2: -,1,1,1,3,5,5,3,1,1,1   SMA3: -,-,1,1,2.33,3.67,5,3.67,2.33,1,1
    # up-cross at 4 (3 > 2.33, previously 1 <= 1); down-cross at 7 (3 < 3.67, previously 5 >= 5)
    s = strategies.get("ma_cross").run(
        bars([1, 1, 1, 1, 5, 5, 5, 1, 1, 1, 1]), {"fast": 2, "slow": 3}
    )
    assert (where(s.entries), where(s.exits)) == ([4], [7])


def test_bollinger_by_hand() -> None:
    # window 3, k 1: bar 4 (10,10,7): mid 9, sd 1.414, lower 7.59 -> 7 crosses below
    # bar 5 (10,7,9): mid 8.67 -> 9 crosses back above the middle band
    s = strategies.get("bollinger").run(
        bars([10, 10, 10, 10, 7, 9, 11, 11]), {"window": 3, "k": 1.0}
    )
    assert (where(s.entries), where(s.exits)) == ([4], [5])


def test_rsi_wilder_values_and_signals_by_hand() -> None:
    closes = [10, 11, 12, 11, 9, 8, 9, 11, 12]
    value = rsi(pd.Series(closes, dtype=float), 2).round(2).tolist()
    assert value[2:] == [100.0, 50.0, 16.67, 10.0, 50.0, 82.0, 89.02]
    s = strategies.get("rsi").run(bars(closes), {"window": 2, "lower": 30, "upper": 70})
    assert (where(s.entries), where(s.exits)) == ([4], [7])


def test_donchian_by_hand() -> None:
    # window 3: bar 3 closes 6 above max(5,5,5); bar 4 closes 7 above max(5,5,6)
    # exit_window 2: bar 6 closes 4 below min(7,7)
    s = strategies.get("donchian").run(
        bars([5, 5, 5, 6, 7, 7, 4, 4]), {"window": 3, "exit_window": 2}
    )
    assert (where(s.entries), where(s.exits)) == ([3, 4], [6])


def test_parameters_are_checked_with_messages_that_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match=r"fast \(30\) must be shorter than slow \(10\)"):
        strategies.get("ma_cross").params({"fast": 30, "slow": 10})
    with pytest.raises(ValueError, match="has no parameter 'fastt'; it takes fast, slow"):
        strategies.get("ma_cross").params({"fastt": 3})
    with pytest.raises(ValueError, match="k must be > 0"):
        strategies.get("bollinger").params({"k": 0})
    with pytest.raises(ValueError, match="need 0 < lower < upper < 100"):
        strategies.get("rsi").params({"lower": 80})
    with pytest.raises(ValueError, match="window must be a whole number"):
        strategies.get("donchian").params({"window": 2.5})
    with pytest.raises(ValueError, match="unknown strategy 'macd': choose one of"):
        strategies.get("macd")


def test_every_strategy_is_documented_with_defaults_inside_its_grid_types() -> None:
    for strategy in strategies.REGISTRY.values():
        assert strategy.rule.startswith("Rule:") and "Parameters:" in strategy.rule
        assert set(strategy.grid) <= set(strategy.defaults)
        strategy.params()  # the defaults pass their own checks


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), cut=st.integers(40, 199))
def test_no_look_ahead_appending_future_bars_never_changes_past_signals(
    seed: int, cut: int
) -> None:
    rng = np.random.default_rng(seed)
    close = 10 * np.exp(np.cumsum(rng.normal(0, 0.02, 200)))
    full = bars(close.tolist())
    full["high"] = full["close"] * (1 + rng.uniform(0, 0.01, 200))
    full["low"] = full["close"] * (1 - rng.uniform(0, 0.01, 200))
    for strategy in strategies.REGISTRY.values():
        whole = strategy.run(full)
        part = strategy.run(full.iloc[:cut])
        pd.testing.assert_series_equal(part.entries, whole.entries.iloc[:cut])
        pd.testing.assert_series_equal(part.exits, whole.exits.iloc[:cut])


def test_a_grid_in_one_call_equals_each_combination_run_alone() -> None:
    rng = np.random.default_rng(7)
    close = 10 * np.exp(np.cumsum(rng.normal(0, 0.02, 300)))
    frame = bars(close.tolist())
    frame["high"], frame["low"] = frame["close"] * 1.01, frame["close"] * 0.99
    for strategy in strategies.REGISTRY.values():
        combos = strategy.combinations(strategy.grid)
        entries, exits = strategy.run_grid(frame, combos)
        assert entries.shape == exits.shape == (300, len(combos))
        for i in (0, len(combos) // 2, len(combos) - 1):
            alone = strategy.run(frame, combos[i])
            assert (entries[:, i] == alone.entries.to_numpy()).all()
            assert (exits[:, i] == alone.exits.to_numpy()).all()


def test_combinations_leave_out_invalid_ones_and_say_when_none_is_left() -> None:
    ma = strategies.get("ma_cross")
    combos = ma.combinations({"fast": [5, 10, 20], "slow": [10, 20]})
    assert [(c["fast"], c["slow"]) for c in combos] == [(5, 10), (5, 20), (10, 20)]
    with pytest.raises(ValueError, match="no valid ma_cross combination"):
        ma.combinations({"fast": [30], "slow": [10]})
    with pytest.raises(ValueError, match="has no parameter 'speed'"):
        ma.combinations({"speed": [1]})
