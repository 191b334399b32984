"""The optional yfinance source, offline: a fake module in yfinance's place and format."""

from __future__ import annotations

import sys
import types
from datetime import date
from typing import Any

import pandas as pd
import pytest

from services.data.fetch import FetchConfig, Fetcher
from services.data.sources import make_source
from services.data.sources.yfinance_source import YFinanceSource, ticker_of
from services.data.sync import DataConfig, Syncer
from services.store import Store

FAST = FetchConfig(attempts=2, backoff_s=0.0, timeout_s=1.0, min_interval_s=0.0)


class FakeTicker:
    """``yf.Ticker(t).history(auto_adjust=False)``: tz-aware index, capitalised columns."""

    asked: list[tuple[str, dict[str, Any]]] = []

    def __init__(self, ticker: str) -> None:
        self.ticker = ticker

    def history(self, **kwargs: Any) -> pd.DataFrame:
        FakeTicker.asked.append((self.ticker, kwargs))
        index = pd.DatetimeIndex(["2024-05-09", "2024-05-10", "2024-05-13"]).tz_localize(
            "America/New_York"
        )
        close = [184.57, 183.05, 186.28]
        adj = [183.80, 183.05, 186.28]  # a dividend went ex on 2024-05-10
        return pd.DataFrame(
            {
                "Open": close,
                "High": [c + 1 for c in close],
                "Low": [c - 1 for c in close],
                "Close": close,
                "Adj Close": adj,
                "Volume": [48_983_000, 50_759_500, 37_757_100],
            },
            index=index,
        )


@pytest.fixture
def fake_yfinance(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("yfinance")
    module.Ticker = FakeTicker  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "yfinance", module)


def test_tickers() -> None:
    assert ticker_of("600519.SSE") == "600519.SS"
    assert ticker_of("000001.SZSE") == "000001.SZ"
    assert ticker_of("00700.HK") == "0700.HK"
    assert ticker_of("AAPL.US") == "AAPL"
    with pytest.raises(ValueError, match="no symbols for exchange"):
        ticker_of("000300.INDEX")


def test_daily_bars_and_dividend_factors(fake_yfinance: None, store: Store) -> None:
    source = make_source("yfinance", FAST, date(2026, 1, 1))
    assert isinstance(source, YFinanceSource)
    summary = Syncer(store, source, DataConfig(source="yfinance")).sync(
        ["AAPL.US"], "1d", start=date(2024, 5, 9), end=date(2024, 5, 13)
    )
    assert summary.exit_code == 0
    bars = store.read_bars("AAPL.US", "1d")
    assert list(bars.index.strftime("%Y-%m-%d")) == ["2024-05-09", "2024-05-10", "2024-05-13"]
    assert bars["close"].tolist() == [184.57, 183.05, 186.28]  # as Yahoo reports them
    qfq = store.read_bars("AAPL.US", "1d", how="qfq")["close"].tolist()
    assert qfq == pytest.approx([183.80, 183.05, 186.28], abs=0.01)  # = Adj Close
    ticker, asked = FakeTicker.asked[-1]
    assert ticker == "AAPL" and asked["auto_adjust"] is False and asked["end"] == "2024-05-14"


def test_without_the_extra_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "yfinance", None)  # "not installed"
    source = YFinanceSource(Fetcher(FAST))
    with pytest.raises(ValueError, match=r"pip install 'quantdesk\[yfinance\]'"):
        source.bars("AAPL.US", "1d", date(2024, 5, 9), date(2024, 5, 13))
