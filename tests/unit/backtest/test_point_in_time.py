"""Point-in-time runs: raw prices, with dividends and bonus shares paid on their ex-dates.

The kernel case is worked out by hand; on stored data a series without actions must
equal --adjust none, and signals must not change (hfq and qfq cross alike)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from services.accounting.costs import CostConfig
from services.backtest.engine import Panel, Setup, simulate, trades_of
from services.backtest.request import execute
from services.backtest.rules import BacktestConfig, rules_for
from services.backtest.spec import Request
from services.data.actions import Action
from services.data.sources.demo import DemoSource
from services.data.sync import DataConfig, Syncer
from services.store import Store, StoreError
from tests.unit.backtest.helpers import bars, signals

STOCK = rules_for("600000.SSE", BacktestConfig(), CostConfig())


def with_action(frame: pd.DataFrame, bar: int, cash: float, ratio: float) -> pd.DataFrame:
    """``frame`` as Store.read_pit gives it: raw prices to fill at, actions per bar."""
    out = frame.copy()
    for column in ("open", "high", "low", "close"):
        out[f"exec_{column}"] = frame[column]
    out["div_cash"] = 0.0
    out["share_ratio"] = 1.0
    out.iloc[bar, out.columns.get_loc("div_cash")] = cash
    out.iloc[bar, out.columns.get_loc("share_ratio")] = ratio
    return out


def test_a_cash_dividend_and_bonus_shares_by_hand() -> None:
    # Buy after bar 0 at bar 1's open (10.00); on bar 3 (ex-date) 1.00 a share in cash and
    # 0.25 bonus shares a share (ex-reference (10 - 1) / 1.25 = 7.20); sell after bar 4 at
    # bar 5's open, 7.50.
    frame = with_action(bars([10, 10, 10, 7.2, 7.2, 7.5]), bar=3, cash=1.0, ratio=1.25)
    entries, exits = signals(6, [0], [4])
    panel = Panel.of({"600000.SSE": frame})
    sim = simulate(panel, entries, exits, [STOCK], Setup(init_cash=10_000))
    orders = [(int(o["idx"]), int(o["side"]), o["size"], o["price"]) for o in sim.orders]
    # 900 bought, 1,125 sold: the 225 bonus shares are no order but an event
    assert orders == [(1, 0, 900, 10.0), (5, 1, 1125, 7.5)]
    # 900.00 paid gross on the ex-date with 225 bonus shares; at the sale, held 4 days:
    # 20 % of it withheld then (180.00), as the broker does
    assert sim.events.tolist() == [[0, 3, 900.0, 0.0, 225.0], [0, 5, -180.0, 180.0, 0.0]]
    # cash: 10,000 - 9,005.09 (buy with fees) + 900.00 + 8,437.50 - 9.30 (sell fees) - 180
    assert sim.value[-1, 0] == pytest.approx(10_143.11)
    trades = trades_of(sim, panel, ["600000.SSE"], (0, 6))
    trade = trades.iloc[0]
    assert trade["size"] == 1125 and trade["entry_price"] == pytest.approx(8.0)  # 9,000 / 1,125
    assert trade["pnl"] == pytest.approx(143.11)  # the account's gain, dividend and tax in
    assert trade["return"] == pytest.approx(143.11 / 9_000)


def _daily(n: int, first: str) -> pd.DataFrame:
    frame = bars([10.0] * n)
    frame.index = pd.date_range(first, periods=n, name="datetime")  # every calendar day
    return frame


@pytest.mark.parametrize(
    ("sold", "rate"),
    [
        ("2024-02-29", 0.2),
        ("2024-03-01", 0.2),  # held through 02-29: exactly one calendar month, included
        ("2024-03-02", 0.1),  # one day more (30 days would have ended on 03-01)
        ("2025-02-01", 0.1),  # held through 2025-01-31: exactly a year, included
        ("2025-02-02", 0.0),
    ],
)
def test_a_share_dividend_tax_by_the_holding_period_at_the_sale(sold: str, rate: float) -> None:
    """Bought 2024-01-31 (a leap year's January: one month later is 02-29); the tax is
    decided when the shares are sold, by the whole holding period in calendar months."""
    frame = _daily(400, "2024-01-30")
    frame = with_action(frame, bar=5, cash=0.5, ratio=1.0)
    sale = int(frame.index.get_loc(pd.Timestamp(sold)))
    entries, exits = signals(400, [0], [sale - 1])  # bought at 01-31's open, sold at ``sold``
    sim = simulate(Panel.of({"600000.SSE": frame}), entries, exits, [STOCK], Setup(10_000))
    gross = 900 * 0.5
    assert sim.events[0].tolist() == [0, 5, gross, 0.0, 0.0]  # paid gross on the ex-date
    tax = round(gross * rate, 2)
    withheld = sim.events[1:].tolist()
    assert withheld == ([[0, sale, -tax, tax, 0.0]] if tax else [])


def test_a_dividend_still_held_at_the_end_is_not_taxed_yet() -> None:
    frame = with_action(bars([10.0] * 20), bar=5, cash=0.5, ratio=1.0)
    entries, exits = signals(20, [0], [])
    sim = simulate(Panel.of({"600000.SSE": frame}), entries, exits, [STOCK], Setup(10_000))
    assert sim.events.tolist() == [[0, 5, 450.0, 0.0, 0.0]]


def test_no_dividend_tax_outside_a_share_stocks() -> None:
    etf = rules_for("510300.SSE", BacktestConfig(), CostConfig())
    frame = with_action(bars([4.0] * 5), bar=3, cash=0.1, ratio=1.0)
    entries, exits = signals(5, [0], [])
    sim = simulate(Panel.of({"510300.SSE": frame}), entries, exits, [etf], Setup(10_000))
    assert sim.events[0, 3] == 0.0


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store.of(tmp_path_factory.mktemp("pit"))
    store.open()
    source = DemoSource(date(2026, 11, 24))
    Syncer(store, source, DataConfig()).sync(["600519.SSE", "510300.SSE"], "1d")
    return store


def _run(store: Store, symbol: str, adjust: str) -> dict[str, object]:
    request = Request("ma_cross", (symbol,), start=date(2018, 1, 2), adjust=adjust)
    frame = request.read_bars(store, symbol)
    doc = execute(request, {symbol: frame}.__getitem__, BacktestConfig(), CostConfig())
    return dict(doc)


def test_without_actions_pit_equals_raw_prices(store: Store) -> None:
    assert store.meta("510300.SSE", "1d").actions == []  # type: ignore[union-attr]
    pit, raw = _run(store, "510300.SSE", "pit"), _run(store, "510300.SSE", "none")
    assert pit["metrics"] == raw["metrics"] and pit["trades"] == raw["trades"]
    assert pit["dividends"] == [] and pit["adjusted"] == {"510300.SSE": "pit"}


def test_auto_is_pit_for_a_shares_and_dividends_are_paid(store: Store) -> None:
    auto, qfq = _run(store, "600519.SSE", "auto"), _run(store, "600519.SSE", "qfq")
    assert auto["adjusted"] == {"600519.SSE": "pit"}
    # Signals read back-adjusted prices: the same crossings as qfq, so the same trade days.
    days = [(t["entry_time"], t["exit_time"]) for t in auto["trades"]]  # type: ignore[attr-defined]
    assert days == [(t["entry_time"], t["exit_time"]) for t in qfq["trades"]]  # type: ignore[attr-defined]
    paid = auto["dividends"]
    assert paid, "the demo stock pays a yearly dividend"
    cash = {
        a.ex_date.isoformat(): a.cash for a in DemoSource(date(2026, 11, 24)).actions("600519.SSE")
    }
    for d in paid:  # type: ignore[attr-defined]
        assert d["per_share"] == pytest.approx(cash[d["ex_date"]])
        assert d["net"] + d["tax"] == pytest.approx(d["shares"] * d["per_share"], abs=0.01)


def test_factors_without_action_records_are_refused(tmp_path: Path) -> None:
    store = Store.of(tmp_path)
    store.open()
    frame = bars([10.0] * 5).assign(amount=np.nan)
    store.write_bars("600000.SSE", "1d", frame, source="t", factors=[(date(2024, 1, 4), 1.1)])
    with pytest.raises(StoreError, match="no dividend or bonus-share records"):
        Request("ma_cross", ("600000.SSE",)).read_bars(store, "600000.SSE")
    store.write_bars(
        "600000.SSE", "1d", frame.iloc[:0], source="t", actions=[Action(date(2024, 1, 4), 0.0, 0.5)]
    )
    with pytest.raises(StoreError, match="reverse split"):
        Request("ma_cross", ("600000.SSE",)).read_bars(store, "600000.SSE")
