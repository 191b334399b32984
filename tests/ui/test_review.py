"""Review keys in the console: approve, reject, edit, approve-all, a stale proposal."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime

from textual.widgets import Input

from console.app import QuantdeskApp
from console.dialogs import TextPromptScreen
from panes.orders import Orders
from panes.review import ReviewTable
from services.events import OrderIntent
from services.trading.live import Proposal
from tests.ui.conftest import settle

SIZE = (160, 48)


def propose(app: QuantdeskApp, n: int, strategy: str = "s1", qty: int = 100, **kw: object) -> None:
    tick = app.services.market.get("510300.SSE")
    assert tick is not None
    intent = OrderIntent(f"p{n}", "510300.SSE", "buy", "limit", qty, tick.ask_price_1)
    p = Proposal(
        intent,
        strategy,
        "MA(5) crossed above MA(20) at 10:01",
        tick.ask_price_1,
        datetime(2026, 11, 23, 10, 1),
    )
    app.services.review.propose(replace(p, **kw), auto=False)  # type: ignore[arg-type]


def cell(table: ReviewTable, key: str, column: str) -> str:
    return str(table.get_cell(key, column))


async def test_approve_reject_edit_and_approve_all_by_keys(app: QuantdeskApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 20)
        for n in (1, 2, 3):
            propose(app, n, qty=100 * n)  # distinct orders: the duplicate rule stays out of it
        propose(app, 4, strategy="s2", qty=150)
        await settle(pilot)
        table = app.query_one(ReviewTable)
        assert table.row_count == 4 and "MA(5) crossed above" in cell(table, "p1", "why")
        assert cell(table, "p1", "risk") == "✓ passes\nevery check"
        assert "lot_size" in cell(table, "p4", "risk")  # the verdict before approval
        await pilot.press("6")
        assert table.has_focus
        await pilot.press("a")  # approve p1
        await settle(pilot)
        assert "p1" not in table.rows
        assert any(o.vt_symbol == "510300.SSE" for o in app.query_one(Orders).orders.values())
        await pilot.press("r")  # reject p2
        await settle(pilot)
        assert sorted(str(k.value) for k in table.rows) == ["p3", "p4"]
        table.move_cursor(row=table.get_row_index("p4"))
        await pilot.press("e")  # edit p4 to a whole lot
        prompt = app.screen
        assert isinstance(prompt, TextPromptScreen)
        prompt.query_one(Input).value = "200"
        await pilot.press("enter")
        await settle(pilot)
        assert "p4" not in table.rows
        assert app.services.journal.entries("intent", "p4-e")[0]["payload"]["verdict"] == "accepted"
        propose(app, 5, qty=500)  # not a duplicate of p3: the duplicate rule would refuse it
        await settle(pilot)
        table.move_cursor(row=table.get_row_index("p3"))
        await pilot.press("A")  # every s1 proposal: p3 and p5
        await settle(pilot)
        assert table.row_count == 0
        # sent, not dropped: each went through the order path and reached the venue
        for intent_id in ("p3", "p5"):
            (entry,) = app.services.journal.entries("intent", intent_id)
            assert entry["payload"]["verdict"] == "accepted"
            assert app.services.journal.entries("submit", intent_id)


async def test_a_stale_proposal_is_marked_and_approving_it_explains(app: QuantdeskApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 20)
        propose(app, 6, proposed_at=time.monotonic() - 1000)
        await settle(pilot)
        table = app.query_one(ReviewTable)
        assert "STALE" in cell(table, "p6", "risk")
        table.focus()
        await pilot.press("a")
        await settle(pilot)
        assert "p6" in table.rows  # still there: it cannot go as it is
        assert app.services.journal.entries("intent", "p6") == []


async def test_flatten_after_a_halt_previews_and_sends_reduce_only_orders(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from console.dialogs import ConfirmScreen
    from services.events import TradingState
    from tests.ui.conftest import build_app

    app = build_app(tmp_path, speed=3600, ticks_per_second=20)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 5)
        services = app.services
        tick = services.market.get("600036.SSE")
        assert tick is not None
        buy = OrderIntent("b", "600036.SSE", "buy", "limit", 300, tick.ask_price_1)
        assert services.orders.submit(buy).accepted
        await settle(pilot)
        await pilot.press("ctrl+f")  # not halted yet: refused with a hint
        assert not isinstance(app.screen, ConfirmScreen)
        while services.gateway.market.trading_day.day == 23:  # T+1: sellable tomorrow
            services.gateway.advance(50)
        await settle(pilot, 3)
        await pilot.press("ctrl+k")
        await settle(pilot)
        await pilot.press("ctrl+f")
        preview = app.screen
        assert isinstance(preview, ConfirmScreen)
        assert "SELL 300 600036.SSE limit" in preview.question and "REDUCING" in preview.question
        await pilot.press("y")
        await settle(pilot)
        assert services.control.state is TradingState.REDUCING
        [entry] = [e for e in services.journal.entries("intent") if e["ref"].startswith("flatten-")]
        assert entry["payload"]["verdict"] == "accepted"
        assert (
            entry["payload"]["intent"]["side"] == "sell"
            and entry["payload"]["intent"]["qty"] == 300
        )


async def test_the_risk_screen_shows_use_and_the_last_rejection(app: QuantdeskApp) -> None:
    from console.risk_screen import RiskScreen
    from panes.risk import LimitsTable, RejectionsTable

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 20)
        tick = app.services.market.get("600519.SSE")
        assert tick is not None
        app.services.orders.submit(
            OrderIntent("big", "600519.SSE", "buy", "limit", 200_000, tick.ask_price_1)
        )
        await settle(pilot)
        await pilot.press("L")
        screen = app.screen
        assert isinstance(screen, RiskScreen)
        limits = screen.query_one(LimitsTable)
        from services.trading.risk_monitor import NUMERIC

        assert limits.row_count == len(NUMERIC) == 15  # every numeric [risk] limit
        assert str(limits.get_cell("max_orders_per_day", "limit")) == "2,000"
        assert str(limits.get_cell("max_position_value", "limit")) == "1,000,000 CNY"
        assert str(limits.get_cell("price_band_pct", "limit")) == "3.0%"
        assert str(limits.get_cell("stale_quote_s", "limit")) == "30 s"
        assert "e+" not in " ".join(
            str(limits.get_cell(k, "limit")) + str(limits.get_cell(k, "now")) for k in NUMERIC
        )
        rejections = screen.query_one(RejectionsTable)
        rows = [[str(c) for c in rejections.get_row_at(i)] for i in range(rejections.row_count)]
        assert {r[1] for r in rows} == {"BUY 200,000 600519.SSE"}
        assert ["order_qty", "200,000", "100,000"] in [r[2:5] for r in rows]  # rule, value, limit
        notional = next(r for r in rows if r[2] == "order_notional")
        assert notional[4] == "500,000 CNY" and notional[3].endswith(" CNY")
        await pilot.press("escape")
        assert not isinstance(app.screen, RiskScreen)


async def test_strategies_start_stop_by_key_propose_on_bars_and_compare(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from console.dialogs import TableScreen
    from panes.strategies import StrategiesTable
    from services.trading.live import StrategySpec
    from tests.ui.conftest import build_app

    spec = StrategySpec("fastma", "ma_cross", ("600519.SSE",), {"fast": 2, "slow": 3})
    app = build_app(tmp_path, strategies=[spec], speed=600)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 5)
        live = app.services.live
        assert live is not None and live.running == {"fastma"}
        table = app.query_one(StrategiesTable)
        assert "running" in str(table.get_cell("fastma", "state"))
        await pilot.press("7", "s")  # stop it
        assert live.running == set() and "stopped" in str(table.get_cell("fastma", "state"))
        await pilot.press("s")  # and start it again
        assert live.running == {"fastma"}
        for _ in range(30):  # minutes of quotes: bars close, MA(2)/MA(3) cross
            await settle(pilot, 40)
            if live.proposals:
                break
        assert live.proposals > 0
        await settle(pilot)
        review = app.query_one(ReviewTable)
        assert review.row_count >= 1 and "fastma: MA(2) crossed" in str(review.get_row_at(0)[1])
        table.focus()
        await pilot.press("c")
        assert isinstance(app.screen, TableScreen)
        assert any(row["live"] != "-" for row in app.screen.rows)
        await pilot.press("escape")
