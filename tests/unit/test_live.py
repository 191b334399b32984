"""The live runner is the backtest, bar by bar: replaying stored history through it,
auto-approved, against a venue that fills at the next bar's open, gives exactly the
backtest's trades. Bars are built from ticks; proposals say why in words."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest
from vnpy.trader.constant import Exchange
from vnpy.trader.object import TickData

import strategies
from services.accounting.costs import CostConfig
from services.backtest.engine import Setup, run
from services.backtest.rules import BacktestConfig, rules_for
from services.trading.live import BarBuilder, LiveRunner, Proposal, StrategySpec
from tests.real_data import yahoo


def orcl() -> pd.DataFrame:
    return yahoo("orcl-1995-2014.txt")


class NextOpenVenue:
    """Fills an accepted proposal at the next bar's open, like the backtest."""

    def __init__(self) -> None:
        self.qty = 0
        self.pending: list[Proposal] = []
        self.fills: list[tuple[pd.Timestamp, str, float]] = []
        self.runner: LiveRunner | None = None

    def position(self, symbol: str) -> tuple[int, int]:
        return self.qty, self.qty

    def accept(self, proposal: Proposal, auto: bool) -> None:
        assert auto
        self.pending.append(proposal)

    def open_bar(self, at: pd.Timestamp, price: float) -> None:
        for p in self.pending:
            self.qty += p.intent.qty if p.intent.side == "buy" else -p.intent.qty
            self.fills.append((at, p.intent.side, price))
            assert self.runner is not None
            self.runner.settled(p.strategy_id, p.intent.vt_symbol, p.intent.side)
        self.pending = []


@pytest.mark.parametrize(
    ("name", "params"),
    [("ma_cross", {"fast": 10, "slow": 30}), ("donchian", {"window": 20, "exit_window": 10})],
)
def test_replaying_history_through_the_live_runner_gives_the_backtests_trades(
    name: str, params: dict[str, float]
) -> None:
    bars = orcl()
    venue = NextOpenVenue()
    spec = StrategySpec("s", name, ("ORCL.US",), params, freq="1d", size=100, auto_approve=True)
    runner = LiveRunner([spec], venue.position, lambda s, side: 0.0, venue.accept)
    venue.runner = runner
    for at, row in bars.iterrows():
        venue.open_bar(at, float(row["open"]))
        runner.on_bar("ORCL.US", "1d", dict(row), at.to_pydatetime())
    rules = rules_for("ORCL.US", BacktestConfig(us_sec_fee_rate=0.0), CostConfig())
    result = run(
        strategies.get(name), {"ORCL.US": bars}, params, [rules], Setup(sizing="quantity", size=100)
    )
    backtest = []
    for t in result.trades.itertuples():
        backtest += [(t.entry_time, "buy", t.entry_price), (t.exit_time, "sell", t.exit_price)]
    assert len(backtest) > 40
    got = [(t, side, round(price, 6)) for t, side, price in venue.fills[: len(backtest)]]
    assert got == [(t, side, round(price, 6)) for t, side, price in backtest]
    assert len(venue.fills) - len(backtest) in (0, 1)  # the backtest leaves an open entry out


def test_bars_from_ticks_and_a_reason_in_words() -> None:
    closed: list[tuple[str, dict[str, float], datetime]] = []
    builder = BarBuilder(lambda s, bar, at: closed.append((s, dict(bar), at)))
    start = datetime(2026, 11, 23, 9, 30)
    for i, (price, volume) in enumerate([(10, 100), (11, 150), (9, 190), (10.5, 200), (12, 260)]):
        seconds = [0, 20, 40, 59, 60][i]
        builder.on_tick(
            TickData(
                gateway_name="t",
                symbol="600000",
                exchange=Exchange.SSE,
                datetime=start + timedelta(seconds=seconds),
                last_price=price,
                volume=volume,
            )
        )
    [(symbol, bar, at)] = closed
    assert (symbol, at) == ("600000.SSE", start)
    assert bar == {"open": 10, "high": 11, "low": 9, "close": 10.5, "volume": 100.0}
    ma = strategies.get("ma_cross")
    assert ma.describe(ma.params({"fast": 10, "slow": 30}), "buy") == "MA(10) crossed above MA(30)"


def test_a_bad_strategy_declaration_says_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="has no parameter 'speed'"):
        StrategySpec("x", "ma_cross", ("600519.SSE",), {"speed": 3}).check()
    with pytest.raises(ValueError, match="unknown strategy 'macd'"):
        StrategySpec("x", "macd", ("600519.SSE",)).check()
    with pytest.raises(ValueError, match="freq must be 1m or 1d"):
        StrategySpec("x", "rsi", ("600519.SSE",), freq="5m").check()


def test_live_versus_backtest_says_where_and_why_they_differ() -> None:
    from services.trading.live import compare_with_backtest

    bars = orcl().iloc[:1500]
    proposals: list[Proposal] = []
    held = {"qty": 0}
    spec = StrategySpec("m", "ma_cross", ("ORCL.US",), {"fast": 10, "slow": 30}, freq="1d")
    runner = LiveRunner(
        [spec],
        lambda s: (held["qty"], held["qty"]),
        lambda s, side: 1.0,
        lambda p, auto: proposals.append(p),
    )
    runner.seed("ORCL.US", "1d", bars.iloc[:300])
    decided = 0
    for at, row in bars.iloc[300:].iterrows():
        runner.on_bar("ORCL.US", "1d", dict(row), at.to_pydatetime())
        while decided < len(proposals):
            p = proposals[decided]
            decided += 1
            if decided == 2:  # the trader rejects the second proposal (a sell): still holding
                runner.settled("m", "ORCL.US", p.intent.side, "rejected by the trader")
                continue
            held["qty"] = 100 if p.intent.side == "buy" else 0
            runner.settled("m", "ORCL.US", p.intent.side, "approved, sent as SIM.1")
    rows = compare_with_backtest(runner, "m", "ORCL.US")
    assert len(rows) >= len(proposals) > 4
    assert rows[0]["difference"] == "" and rows[0]["backtest"] == rows[0]["live"] == "buy"
    assert (
        rows[1]["outcome"] == "rejected by the trader"
        and rows[1]["difference"] == "rejected by the trader"
    )
    # after the rejected sell the live runner still held: the backtest's next buy never came live
    skipped = [r for r in rows[2:] if r["live"] == "-" and r["backtest"] == "buy"]
    assert skipped and skipped[0]["difference"].startswith("its sell of ")
    assert skipped[0]["difference"].endswith("was rejected by the trader")


def test_a_manual_position_is_named_as_the_reason_not_a_missed_fill() -> None:
    from services.trading.live import compare_with_backtest

    bars = orcl().iloc[:800]
    proposals: list[Proposal] = []
    spec = StrategySpec("m", "ma_cross", ("ORCL.US",), {"fast": 10, "slow": 30}, freq="1d")
    runner = LiveRunner(
        [spec], lambda s: (300, 300), lambda s, side: 1.0, lambda p, auto: proposals.append(p)
    )  # the trader bought 300 by hand before the strategy ran
    runner.seed("ORCL.US", "1d", bars.iloc[:300])
    for at, row in bars.iloc[300:].iterrows():
        runner.on_bar("ORCL.US", "1d", dict(row), at.to_pydatetime())
        for p in proposals:  # its sells are approved, the manual position stays (a fake venue)
            runner.settled("m", "ORCL.US", p.intent.side, "approved, sent as SIM.1")
        proposals.clear()
    rows = compare_with_backtest(runner, "m", "ORCL.US")
    missed = [r for r in rows if r["backtest"] == "buy" and r["live"] == "-"]
    assert missed
    for row in missed:
        assert "300 shares that this strategy did not buy" in row["difference"], row
        assert "did not fill" not in row["difference"]


def test_stops_are_managed_by_the_runner_and_propose_like_signals() -> None:
    proposals: list[Proposal] = []
    spec = StrategySpec(
        "t",
        "ma_cross",
        ("X.US",),
        {"fast": 2, "slow": 3},
        freq="1d",
        stop_loss=0.05,
        trailing_stop=0.1,
    )
    runner = LiveRunner(
        [spec],
        lambda s: (100, 100),
        lambda s, side: 1.0,
        lambda p, a: proposals.append(p),
        entry_price=lambda s: 100.0,
    )
    start = datetime(2026, 1, 5)
    bars = [(101, 104, 99), (104, 112, 103), (110, 111, 100.5)]  # (close, high, low)
    for n, (close, high, low) in enumerate(bars):
        bar = {"open": close, "high": high, "low": low, "close": close, "volume": 1.0}
        runner.on_bar("X.US", "1d", bar, start + timedelta(days=n))
    # bar 3: low 100.5 is 10 % under the 112 peak of bar 2 (the stop-loss at 95 is not hit)
    [p] = proposals
    assert p.intent.side == "sell" and p.intent.qty == 100
    assert p.reason.startswith("trailing stop: low 100.5 reached 100.800 (10% under the peak)")


def test_percent_sizing_buys_a_fraction_of_equity_in_whole_lots() -> None:
    proposals: list[Proposal] = []
    spec = StrategySpec(
        "p", "ma_cross", ("X.US",), {"fast": 2, "slow": 3}, freq="1d", sizing="percent", size=0.5
    )
    runner = LiveRunner(
        [spec],
        lambda s: (0, 0),
        lambda s, side: 1468.0,
        lambda p, a: proposals.append(p),
        equity=lambda: 1_000_000.0,
        lot=lambda s: 100,
    )
    start = datetime(2026, 1, 5)
    for n, close in enumerate([10, 10, 10, 12]):  # MA(2) crosses above MA(3) on the last bar
        bar = {"open": close, "high": close, "low": close, "close": close, "volume": 1.0}
        runner.on_bar("X.US", "1d", bar, start + timedelta(days=n))
    [p] = proposals
    assert p.intent.qty == 300  # 500,000 / 1,468 = 340.6 -> 3 lots of 100
    with pytest.raises(ValueError, match="a percent size is a fraction of equity"):
        StrategySpec("q", "ma_cross", ("X.US",), sizing="percent", size=5).check()
    with pytest.raises(ValueError, match="sizing must be shares or percent"):
        StrategySpec("q", "ma_cross", ("X.US",), sizing="lots").check()


def test_an_approved_buy_still_working_is_not_proposed_again(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The runner looked only at the filled position: with the first (approved) buy still
    resting, the next entry signal proposed a second one, and approving both doubled the
    entry. A working buy counts as held; the skip says why."""
    from tests.conftest import make_services

    spec = StrategySpec("t", "ma_cross", ("600519.SSE",), {"fast": 2, "slow": 3}, freq="1m")
    services = make_services(tmp_path, strategies=[spec])
    services.start()
    try:
        assert services.bus.wait_idle()
        tick = services.market.get("600519.SSE")
        assert tick is not None
        at = datetime(2026, 11, 23, 9, 31)
        closes = [100, 100, 100, 90, 80, 95, 110, 90, 80, 95, 110]  # up, down, up again
        seen = 0
        for n, close in enumerate(closes):
            bar = {"open": close, "high": close, "low": close, "close": close, "volume": 100.0}
            services.live.on_bar("600519.SSE", "1m", bar, at + timedelta(minutes=n))
            items = services.review.items()
            if len(items) > seen and items[-1].proposal.intent.side == "buy" and seen == 0:
                seen = len(items)  # the first buy: approved at a price that rests
                rest = round(tick.bid_price_1 * 0.99, 2)
                result = services.review.approve(items[-1].proposal.intent.intent_id, price=rest)
                assert result.accepted and len(services.orders.working_ids()) == 1
        assert seen == 1
        buys = [i for i in services.review.items() if i.proposal.intent.side == "buy"]
        assert buys == []  # the second crossing proposed nothing
        skipped = [why for (s, sym, _), why in services.live.skipped.items() if s == "t"]
        assert any("a buy of 100 shares is still working" in why for why in skipped)
    finally:
        services.stop()
