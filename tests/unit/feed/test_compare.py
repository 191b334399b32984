"""After the daily sync, paper mode's recorded minute bars are compared with the source's
official ones: every difference is reported (a job warning and a log line), none hidden."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from services.data.sources import SourceError
from services.feed.compare import compare_recorded
from services.store import Store

DAY = date(2026, 11, 24)
SYMBOL = "600036.SSE"


def bars(start: str, closes: list[float], volumes: list[float]) -> pd.DataFrame:
    index = pd.date_range(start, periods=len(closes), freq="1min")
    return pd.DataFrame(
        {
            "open": closes,
            "high": closes,
            "low": closes,
            "close": closes,
            "volume": volumes,
            "amount": [c * v for c, v in zip(closes, volumes, strict=True)],
        },
        index=index,
    )


class Official:
    """The source's side: AkShare-labelled bars (by their end minute)."""

    name = "official"

    def __init__(self, frame: pd.DataFrame | None) -> None:
        self.frame = frame

    def bars(self, vt_symbol: str, freq: str, start: date, end: date) -> pd.DataFrame:
        if self.frame is None:
            raise SourceError(f"{vt_symbol} 1m", "timed out after 20 s (after 3 attempts)")
        return self.frame


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"lmdb://{tmp_path / 'arctic'}")
    s.open()
    s.write_bars(
        SYMBOL, "1m", bars("2026-11-24 09:30", [43.1, 43.2, 43.3], [1e4, 2e4, 3e4]), source="live"
    )
    return s


def test_identical_days_compare_clean_after_the_label_shift(store: Store) -> None:
    official = bars("2026-11-24 09:31", [43.1, 43.2, 43.3], [1e4, 2e4, 3e4])  # end labels
    [result] = compare_recorded(store, Official(official), DAY)  # type: ignore[arg-type]
    assert result.clean and result.compared == 3
    assert result.line() == "600036.SSE 2026-11-24: 3 minutes compared, 0 differ"


def test_differences_and_missing_minutes_are_reported(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="quantdesk.feed")
    official = bars("2026-11-24 09:31", [43.1, 43.25, 43.3, 43.4], [1e4, 2e4, 3.5e4, 1e4])
    [result] = compare_recorded(store, Official(official), DAY)  # type: ignore[arg-type]
    assert not result.clean and result.only_official == 1
    assert {(d[0], d[1]) for d in result.differences} >= {("09:31", "close"), ("09:32", "volume")}
    assert "2 differ, 0 only recorded, 1 only official" in result.line()
    assert "first: 09:31 open live 43.2 vs official 43.25" in result.line()
    assert any(
        r.levelname == "WARNING" and "recorded vs official" in r.getMessage()
        for r in caplog.records
    )


def test_a_source_failure_is_reported_as_not_compared(store: Store) -> None:
    [result] = compare_recorded(store, Official(None), DAY)  # type: ignore[arg-type]
    assert not result.clean and "not compared (600036.SSE 1m: timed out" in result.line()


def test_only_live_recorded_symbols_are_compared(store: Store) -> None:
    store.write_bars(
        "600519.SSE", "1m", bars("2026-11-24 09:30", [1468.0], [100.0]), source="akshare"
    )
    official = bars("2026-11-24 09:31", [43.1, 43.2, 43.3], [1e4, 2e4, 3e4])
    results = compare_recorded(store, Official(official), DAY)  # type: ignore[arg-type]
    assert [r.vt_symbol for r in results] == [SYMBOL]
