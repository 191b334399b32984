"""``--start`` trades from the start date but computes every indicator on the stored bars
before it (a trader's indicators do not restart the day the test does)."""

from __future__ import annotations

from datetime import date

import pandas as pd

from services.accounting.costs import CostConfig
from services.backtest.request import execute
from services.backtest.rules import BacktestConfig
from services.backtest.spec import Request
from tests.real_data import yahoo

CONFIG = BacktestConfig(us_sec_fee_rate=0.0)


def nvda() -> pd.DataFrame:
    return yahoo("nvda-1999-2014.txt")


def reader(frame: pd.DataFrame, end: date | None = None):  # type: ignore[no-untyped-def]
    return lambda symbol: frame.loc[: pd.Timestamp(end)] if end else frame


def test_a_start_date_warms_up_on_earlier_bars_and_trades_from_it() -> None:
    bars = nvda()
    start = date(2005, 1, 3)
    full = execute(
        Request("ma_cross", ("NVDA.US",), params={"fast": 10, "slow": 60}),
        reader(bars),
        CONFIG,
        CostConfig(),
    )
    late = execute(
        Request("ma_cross", ("NVDA.US",), start=start, params={"fast": 10, "slow": 60}),
        reader(bars),
        CONFIG,
        CostConfig(),
    )
    assert late["start"] == "2005-01-03"
    assert late["warmup_bars"] == int((bars.index < pd.Timestamp(start)).sum()) > 1000
    # the same signals: every trade of the full run entered after the start is in the late run
    after = [t for t in full["trades"] if t["entry_time"] >= "2005-01-03"]
    assert after and [t["entry_time"] for t in late["trades"]][-len(after) :] == [
        t["entry_time"] for t in after
    ]
    assert all(t["entry_time"] >= "2005-01-03" for t in late["trades"])
    assert late["equity"] and min(late["equity"]) >= "2005-01-03"


def test_the_rsi_case_of_the_issue_with_its_warm_up() -> None:
    """From 1999-03-15 with the 35 earlier stored bars as warm-up, RSI(14) enters no
    earlier than Wilder's RSI allows (before: 1999-04-27)."""
    run = execute(
        Request(
            "rsi",
            ("NVDA.US",),
            start=date(1999, 3, 15),
            end=date(2000, 12, 31),
            adjust="none",
            fees=0.0,
        ),
        reader(nvda(), date(2000, 12, 31)),
        CONFIG,
        CostConfig(),
    )
    assert run["warmup_bars"] > 0
    assert run["trades"][0]["entry_time"] > "1999-05-01"
