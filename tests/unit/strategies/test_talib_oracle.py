"""Every indicator the strategies use equals TA-Lib's on real bars (TA-Lib comes with
vnpy): RSI seeded as Wilder did, SMA, population standard deviation (Bollinger), and the
rolling highs and lows of the Donchian channel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib

from services.data.csvio import read_csv
from strategies.rsi import rsi
from tests.real_data import REAL


@pytest.fixture(scope="module")
def nvda() -> pd.DataFrame:
    return read_csv(REAL / "nvda-1999-2014.txt").bars


@pytest.mark.parametrize("window", [2, 7, 14, 21, 28])
def test_rsi_is_talibs_from_its_first_value(nvda: pd.DataFrame, window: int) -> None:
    close = nvda["close"]
    ours = rsi(close, window).to_numpy()
    theirs = talib.RSI(close.to_numpy(dtype=float), timeperiod=window)
    assert np.isnan(ours[:window]).all() and np.isnan(theirs[:window]).all()
    np.testing.assert_allclose(ours[window:], theirs[window:], rtol=0, atol=1e-9)


def test_rsi_at_the_start_of_the_issue_case_is_wilders(nvda: pd.DataFrame) -> None:
    """The run that exposed the seeding: from 1999-03-15 (NVDA) RSI(14) first crosses
    below 30 in late September 1999, not on 1999-04-27."""
    close = nvda.loc["1999-03-15":"2000-12-31", "close"]
    value = rsi(close, 14)
    below = (value < 30) & (value.shift(1) >= 30)
    assert str(below[below].index[0].date()) >= "1999-09-01"
    assert not below.loc[:"1999-05-01"].any()


@pytest.mark.parametrize("window", [5, 20, 60])
def test_the_other_indicators_are_talibs(nvda: pd.DataFrame, window: int) -> None:
    close = nvda["close"].to_numpy(dtype=float)
    high, low = nvda["high"].to_numpy(dtype=float), nvda["low"].to_numpy(dtype=float)
    s = pd.Series(close)
    np.testing.assert_allclose(
        s.rolling(window).mean(), talib.SMA(close, window), atol=1e-9, equal_nan=True
    )
    np.testing.assert_allclose(
        s.rolling(window).std(ddof=0),
        talib.STDDEV(close, window, 1.0),
        atol=1e-6,
        equal_nan=True,
    )
    np.testing.assert_allclose(
        pd.Series(high).rolling(window).max(), talib.MAX(high, window), atol=0, equal_nan=True
    )
    np.testing.assert_allclose(
        pd.Series(low).rolling(window).min(), talib.MIN(low, window), atol=0, equal_nan=True
    )
