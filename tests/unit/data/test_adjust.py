"""qfq/hfq against a hand-computed dividend and split."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from services.data.adjust import adjust, factors_from_frame

# D1 10.00, D2 10.20; D3 ex-dividend 0.50/share: close 9.80;
# D4 2-for-1 split: close 4.95.
# hfq factor from D3: 10.20 / (10.20 - 0.50) = 1.0515463917525774; from D4: x2.
F3 = 10.20 / 9.70
FACTORS = [(date(2026, 1, 7), F3), (date(2026, 1, 8), F3 * 2)]
RAW = pd.DataFrame(
    {
        "open": [10.0, 10.2, 9.8, 4.95],
        "high": [10.0, 10.2, 9.8, 4.95],
        "low": [10.0, 10.2, 9.8, 4.95],
        "close": [10.0, 10.2, 9.8, 4.95],
        "volume": [1.0, 1.0, 1.0, 2.0],
        "amount": [float("nan")] * 4,
    },
    index=pd.DatetimeIndex(
        ["2026-01-05", "2026-01-06", "2026-01-07", "2026-01-08"], name="datetime"
    ),
)


def test_hfq_by_hand() -> None:
    hfq = adjust(RAW, FACTORS, "hfq")["close"].tolist()
    assert hfq == pytest.approx([10.00, 10.20, 9.80 * F3, 4.95 * F3 * 2])
    assert hfq[2] == pytest.approx(10.305154639)


def test_qfq_by_hand() -> None:
    qfq = adjust(RAW, FACTORS, "qfq")["close"].tolist()
    assert qfq == pytest.approx([10.0 / (F3 * 2), 10.2 / (F3 * 2), 9.80 / 2, 4.95])
    assert qfq[0] == pytest.approx(4.754901961)


def test_none_returns_raw_and_volume_is_never_adjusted() -> None:
    assert adjust(RAW, FACTORS, "none") is RAW
    assert adjust(RAW, FACTORS, "qfq")["volume"].tolist() == [1.0, 1.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="expected none, qfq or hfq"):
        adjust(RAW, FACTORS, "forward")


def test_a_minute_bar_on_the_ex_date_takes_that_days_factor() -> None:
    index = pd.DatetimeIndex(["2026-01-06 14:59", "2026-01-07 09:31"], name="datetime")
    minute = pd.DataFrame({c: [10.0, 10.0] for c in RAW.columns}, index=index)
    hfq = adjust(minute, FACTORS, "hfq")["close"].tolist()
    assert hfq == pytest.approx([10.0 * 1.0, 10.0 * F3])


def test_akshare_factor_frames_keep_only_changes() -> None:
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(["2026-01-08", "2026-01-07", "2026-01-07", "1990-01-01"]),
            "hfq_factor": ["2.1030927835", str(F3), str(F3), "1.0"],
        }
    )
    assert factors_from_frame(frame, "hfq_factor") == [
        (date(1990, 1, 1), 1.0),
        (date(2026, 1, 7), pytest.approx(F3)),
        (date(2026, 1, 8), pytest.approx(2.1030927835)),
    ]
