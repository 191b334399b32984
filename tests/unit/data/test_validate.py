"""Every validation rule: one case that triggers it, one that must not."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from services.data.bars import normalize
from services.data.validate import validate

DAYS = pd.bdate_range("2026-01-05", periods=10)


def bars(closes: list[float], index: pd.DatetimeIndex | None = None) -> pd.DataFrame:
    index = DAYS[: len(closes)] if index is None else index
    c = np.array(closes, dtype=float)
    frame = pd.DataFrame(
        {"open": c, "high": c * 1.0, "low": c * 1.0, "close": c, "volume": 1000.0}, index=index
    )
    return normalize(frame)


def rules(report: object) -> list[str]:
    return list(report.quarantined["rule"])  # type: ignore[attr-defined]


def test_clean_bars_pass() -> None:
    report = validate(bars([10, 10.5, 10.2, 10.4, 10.3, 10.6]), "600519.SSE", "1d")
    assert rules(report) == [] and len(report.clean) == 6


def test_nan_and_nonpositive_prices() -> None:
    frame = bars([10, 10.1, 10.2, 10.3])
    frame.iloc[1, frame.columns.get_loc("close")] = np.nan
    frame.iloc[2, frame.columns.get_loc("low")] = 0.0
    assert rules(validate(frame, "X.US", "1d")) == ["price_nan", "price_nonpositive"]


def test_ohlc_consistency_and_that_touching_the_high_is_fine() -> None:
    frame = bars([10, 10, 10])
    frame.iloc[0, frame.columns.get_loc("high")] = 9.9  # close above the high
    frame.iloc[1, frame.columns.get_loc("high")] = 10.0  # close == high: fine
    frame.iloc[2, frame.columns.get_loc("low")] = 10.5  # low above everything
    report = validate(frame, "X.US", "1d")
    assert rules(report) == ["ohlc", "ohlc"]
    assert "low ≤ open, close ≤ high" in report.quarantined["reason"].iloc[0]


def test_negative_volume() -> None:
    frame = bars([10, 10])
    frame.iloc[1, frame.columns.get_loc("volume")] = -5
    assert rules(validate(frame, "X.US", "1d")) == ["volume_negative"]
    assert rules(validate(bars([10, 10]), "X.US", "1d")) == []  # zero/positive volume is fine


def test_duplicates_and_out_of_order_rows() -> None:
    index = pd.DatetimeIndex([DAYS[0], DAYS[1], DAYS[1], DAYS[3], DAYS[2]])
    report = validate(bars([10, 10, 10.1, 10, 10], index), "X.US", "1d")
    assert rules(report) == ["duplicate", "out_of_order"]
    assert len(report.clean) == 3 and report.clean.index.is_monotonic_increasing


def test_a_move_beyond_the_limit_without_corporate_action_is_quarantined() -> None:
    closes = [100, 100, 100, 100, 100, 100, 116.0]  # +16 % on a ±10 % stock
    report = validate(bars(closes), "600519.SSE", "1d")
    assert rules(report) == ["limit_move"]
    assert (
        "+16.0% from the previous close 100.00; the limit is ±10%"
        in (report.quarantined["reason"].iloc[0])
    )


def test_limit_up_day_chinext_20pct_and_an_ex_dividend_drop_are_not_flagged() -> None:
    limit_up = [100, 100, 100, 100, 100, 100, 110.0]  # exactly +10 %
    assert rules(validate(bars(limit_up), "600519.SSE", "1d")) == []
    chinext = [100, 100, 100, 100, 100, 100, 120.0]
    assert rules(validate(bars(chinext), "300750.SZSE", "1d")) == []
    ex_div = [100, 100, 100, 100, 100, 100, 85.0]  # -15 % on the ex-date of a big dividend
    report = validate(bars(ex_div), "600519.SSE", "1d", factor_dates={DAYS[6].date()})
    assert rules(report) == []
    st = [10, 10, 10, 10, 10, 10, 10.6]  # +6 % on an ST name (±5 %)
    assert rules(validate(bars(st), "600000.SSE", "1d", name="ST某某")) == ["limit_move"]


def test_an_ex_date_inside_a_suspension_exempts_the_bar_it_resumes_on() -> None:
    """Suspended over its ex-date: the first bar it trades on carries the drop, and only
    that bar (the exemption matched the ex-date's own day and the resumption was
    quarantined as a limit move)."""
    days = DAYS[[0, 1, 2, 3, 4, 5, 8, 9]]  # no bars on DAYS[6] (the ex-date) and DAYS[7]
    closes = [100, 100, 100, 100, 100, 100, 85.0, 70.0]  # resumes 15 % lower, then -17.6 %
    report = validate(bars(closes, days), "600519.SSE", "1d", factor_dates={DAYS[6].date()})
    assert rules(report) == ["limit_move"]  # the day after the resumption, not the resumption
    assert list(report.quarantined.index) == [DAYS[9]]
    stored = bars([100.0] * 6, DAYS[:6])  # the same, arriving in an incremental sync
    new = bars([85.0], pd.DatetimeIndex([DAYS[8]]))
    report = validate(
        new, "600519.SSE", "1d", previous=stored, factor_dates={DAYS[6].date()}, bars_before=6
    )
    assert rules(report) == []


def test_new_listings_trade_without_limits_for_five_bars() -> None:
    ipo = [10, 14.4, 20, 25, 30]  # first days of a new listing
    assert rules(validate(bars(ipo), "688981.SSE", "1d")) == []


def test_limit_checks_against_the_stored_previous_close() -> None:
    stored = bars([100, 100, 100, 100, 100, 100])
    new = bars([125.0], pd.DatetimeIndex([DAYS[6]]))
    assert rules(validate(new, "600519.SSE", "1d", previous=stored)) == ["limit_move"]
    assert rules(validate(new, "ORCL.US", "1d", previous=stored)) == []  # no limits there


def test_an_incremental_day_is_checked_against_the_last_close_alone() -> None:
    # A daily sync passes only the last stored close; the symbol's bars before it are
    # counted, so an old listing is not taken for a new one (exempt from limits).
    last = bars([100.0], pd.DatetimeIndex([DAYS[5]]))
    new = bars([125.0], pd.DatetimeIndex([DAYS[6]]))
    report = validate(new, "600519.SSE", "1d", previous=last, bars_before=2_000)
    assert rules(report) == ["limit_move"]
    assert rules(validate(new, "688981.SSE", "1d", previous=last, bars_before=2)) == []


def test_gaps_against_the_calendar_and_suspensions_recorded_not_reported() -> None:
    calendar = [d.date() for d in DAYS]
    index = DAYS[[0, 1, 3, 4, 6]]  # 2 and 5 missing
    report = validate(
        bars([10, 10, 10, 10, 10], index),
        "600519.SSE",
        "1d",
        calendar=calendar,
        suspensions={DAYS[5].date()},
    )
    assert report.gaps == [DAYS[2].date()]
    assert report.suspensions == [DAYS[5].date()]
    assert rules(report) == []
    full = validate(bars([10] * 7), "600519.SSE", "1d", calendar=calendar)
    assert full.gaps == [] and full.suspensions == []


def test_without_a_calendar_the_gap_check_says_it_was_skipped() -> None:
    report = validate(bars([10, 10]), "600519.SSE", "1d")
    assert report.notes == ["gap check skipped: no exchange calendar stored"]
    assert "gap check skipped" in report.summary()


def test_summary_names_each_rule_and_count() -> None:
    frame = bars([10, 10, 10])
    frame.iloc[1, frame.columns.get_loc("close")] = np.nan
    frame.iloc[2, frame.columns.get_loc("volume")] = -1
    assert validate(frame, "X.US", "1d").summary() == (
        "1 stored; 2 quarantined (price_nan 1, volume_negative 1)"
    )


def test_calendar_dates_are_dates() -> None:
    assert isinstance(DAYS[0].date(), date)
