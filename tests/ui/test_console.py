"""The console driven by keys, as a user would, over the paused simulated market."""

from __future__ import annotations

import asyncio
import json

from textual.widgets import Input, Static

from console.app import QuantdeskApp
from console.dialogs import ConfirmScreen, HelpScreen, TextPromptScreen
from console.ticket import TicketScreen
from panes.header import StatusHeader
from panes.orders import Orders
from panes.positions import Positions
from panes.watchlist import Watchlist
from services.events import OrderIntent, TradingState
from tests.ui.conftest import settle

SIZE = (160, 48)


def error_text(screen: TicketScreen, field: str) -> str:
    widget = screen.query_one(f"#err-{field}", Static)
    return str(widget.render()) if widget.display else ""


async def test_buy_ticket_fills_and_shows_the_position(app: QuantdeskApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 40)
        assert app.query_one(Watchlist).selected == "600519.SSE"
        await pilot.press("b")
        ticket = app.screen
        assert isinstance(ticket, TicketScreen)
        assert ticket.query_one("#qty", Input).value == "100"
        tick = app.services.market.get("600519.SSE")
        assert tick is not None
        assert float(ticket.query_one("#price", Input).value) == tick.ask_price_1
        await pilot.press("enter")  # review
        assert ticket.pending is not None
        summary = str(ticket.query_one("#summary", Static).render())
        assert "BUY 100 600519.SSE 贵州茅台 LIMIT" in summary
        assert f"Notional {100 * tick.ask_price_1:,.2f} CNY" in summary
        await pilot.press("enter")  # send
        assert not isinstance(app.screen, TicketScreen)
        await settle(pilot)
        positions = app.query_one(Positions)
        assert positions.row_count == 1
        assert positions.account is not None
        [pos] = positions.account.positions
        assert (pos.vt_symbol, pos.qty, pos.sellable) == ("600519.SSE", 100, 0)
        orders = app.query_one(Orders)
        [order] = orders.orders.values()
        assert order.status.name == "ALLTRADED"
        header = app.query_one(StatusHeader)
        assert header.account is not None and header.account.cash < 1_000_000 - 100 * 1400


async def test_invalid_tickets_show_inline_errors_and_send_nothing(app: QuantdeskApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 20)
        await pilot.press("b")
        ticket = app.screen
        assert isinstance(ticket, TicketScreen)
        ticket.query_one("#qty", Input).value = "150"
        ticket.query_one("#price", Input).value = "0"
        await pilot.press("enter")
        assert ticket.pending is None
        assert error_text(ticket, "qty") == "Quantity 150 is not a multiple of the lot size 100."
        assert error_text(ticket, "price") == "Price must be greater than zero."
        ticket.query_one("#symbol", Input).value = "999999"
        await pilot.press("enter")
        assert "Unknown symbol '999999'" in error_text(ticket, "symbol")
        await pilot.press("escape")
        await pilot.press("s")  # sell with nothing held
        ticket = app.screen
        assert isinstance(ticket, TicketScreen)
        await pilot.press("enter")
        assert error_text(ticket, "qty") == "Selling 100 but only 0 sellable."
        assert app.services.journal.entries("submit") == []


async def test_a_risk_rejection_shows_the_rule_the_value_and_the_limit(app: QuantdeskApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 20)
        await pilot.press("b")
        ticket = app.screen
        assert isinstance(ticket, TicketScreen)
        tick = app.services.market.get("600519.SSE")
        assert tick is not None
        far = round(tick.last_price * 0.95, 2)
        ticket.query_one("#price", Input).value = f"{far:.2f}"
        await pilot.press("enter")
        assert ticket.pending is None
        text = error_text(ticket, "state")
        assert text.startswith("price_band: Price ")
        assert "5.0% from the last" in text and "the band is 3%" in text
        assert app.services.journal.entries("submit") == []
        (refusal,) = app.services.journal.entries("intent")  # the refused send is on record
        assert refusal["payload"]["verdict"] == "rejected"
        assert refusal["payload"]["violations"][0]["rule"] == "price_band"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("L")
        from panes.risk import RejectionsTable

        rejections = app.screen.query_one(RejectionsTable)
        assert rejections.row_count == 1
        assert str(rejections.get_row_at(0)[2]) == "price_band"


async def test_ctrl_k_from_a_modal_with_an_input_focused_cancels_and_halts(
    app: QuantdeskApp,
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 20)
        tick = app.services.market.get("600519.SSE")
        assert tick is not None
        for i in range(3):
            result = app.services.orders.submit(
                OrderIntent(
                    f"r{i}", "600519.SSE", "buy", "limit", 100, round(tick.bid_price_1 - 5 - i, 2)
                )
            )
            assert result.accepted
        await settle(pilot)
        assert len(app.query_one(Orders).working) == 3
        await pilot.press("b")
        assert isinstance(app.screen, TicketScreen)
        assert isinstance(app.focused, Input)
        await pilot.press("ctrl+k")
        assert app.services.control.state is TradingState.HALTED
        assert app.services.orders.working_ids() == []
        assert app.query_one(StatusHeader).has_class("-halted")
        await settle(pilot)
        assert app.query_one(Orders).working == []
        # the open ticket now refuses to send, saying why
        ticket = app.screen
        assert isinstance(ticket, TicketScreen)
        await pilot.press("enter")
        assert "Trading is HALTED" in error_text(ticket, "state")
        assert ticket.pending is None


async def test_rearm_needs_its_key_and_the_typed_word(app: QuantdeskApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+k")
        assert app.services.control.state is TradingState.HALTED
        await pilot.press("ctrl+r")
        prompt = app.screen
        assert isinstance(prompt, TextPromptScreen)
        await pilot.press("a", "r", "m", "enter")
        assert app.screen is prompt  # refused: wrong word
        assert "Type ARM exactly" in str(prompt.query_one("#prompt-error", Static).render())
        assert app.services.control.state is TradingState.HALTED
        prompt.query_one(Input).value = ""
        await pilot.press("A", "R", "M", "enter")
        assert not isinstance(app.screen, TextPromptScreen)
        assert app.services.control.state is TradingState.ACTIVE
        assert not app.query_one(StatusHeader).has_class("-halted")


async def test_help_lists_every_key_and_closes(app: QuantdeskApp) -> None:
    from rich.console import Console

    from panes.keys import KEYS

    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=200, record=True)
        for static in app.screen.query(Static):
            console.print(static.content)
        text = console.export_text()
        for key in KEYS:  # each binding: its id, what it does, and its key
            assert key.id in text and key.description in text, key.id
            first = key.key.split(",")[0].replace("question_mark", "?")
            assert first in text, key.id
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_quit_asks_when_orders_are_working(app: QuantdeskApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 20)
        tick = app.services.market.get("600036.SSE")
        assert tick is not None
        app.services.orders.submit(
            OrderIntent("w", "600036.SSE", "buy", "limit", 100, round(tick.bid_price_1 - 1, 2))
        )
        await settle(pilot)
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmScreen) and app.is_running
        await pilot.press("q")
        await pilot.press("y")
        await pilot.pause()
    assert app.return_code == 0


async def test_quit_without_working_orders_exits_at_once(app: QuantdeskApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
    assert app.return_code == 0


async def test_cancel_a_working_order_with_c(app: QuantdeskApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 20)
        tick = app.services.market.get("600519.SSE")
        assert tick is not None
        result = app.services.orders.submit(
            OrderIntent("c1", "600519.SSE", "buy", "limit", 100, round(tick.bid_price_1 - 9, 2))
        )
        await settle(pilot)
        await pilot.press("3")  # focus the orders pane
        assert app.focused is app.query_one(Orders)
        await pilot.press("c")
        await settle(pilot)
        order = app.query_one(Orders).orders[result.vt_orderid or ""]
        assert order.status.name == "CANCELLED"


async def test_add_remove_and_sort_the_watchlist_by_keyboard(app: QuantdeskApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 60)
        watchlist = app.query_one(Watchlist)
        assert watchlist.row_count == 20
        await pilot.press("x")  # removes the selected 600519.SSE
        assert "600519.SSE" not in watchlist.symbols and watchlist.row_count == 19
        saved = json.loads((app.services.data_dir / "watchlist.json").read_text())
        assert "600519.SSE" not in saved["symbols"]
        await pilot.press("a")
        prompt = app.screen
        assert isinstance(prompt, TextPromptScreen)
        await pilot.press(*"123456", "enter")
        assert "Unknown symbol '123456'" in str(prompt.query_one("#prompt-error", Static).render())
        prompt.query_one(Input).value = ""
        await pilot.press(*"600519", "enter")
        assert "600519.SSE" in watchlist.symbols and watchlist.row_count == 20
        await pilot.press("o")  # sort by change
        assert watchlist.sort_key == "change"
        selected = watchlist.selected
        await pilot.press("O")  # reverse: cursor stays on the same symbol
        assert watchlist.sort_reverse and watchlist.selected == selected
        changes = []
        for row in range(watchlist.row_count):
            key = watchlist.coordinate_to_cell_key((row, 0)).row_key.value  # type: ignore[arg-type]
            t = app.services.market.get(str(key))
            assert t is not None
            changes.append(t.last_price / t.pre_close - 1)
        assert changes == sorted(changes, reverse=True)


async def test_halted_state_is_shown_on_start_after_a_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.ui.conftest import build_app

    first = build_app(tmp_path)
    async with first.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+k")
    second = build_app(tmp_path)
    async with second.run_test(size=SIZE) as pilot:
        await pilot.pause()
        header = second.query_one(StatusHeader)
        assert header.state is TradingState.HALTED and header.has_class("-halted")
        assert "HALTED" in str(header.render())


async def test_the_command_palette_offers_the_kill_switch(app: QuantdeskApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"Kill switch")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.services.control.state is TradingState.HALTED
        assert app.services.control.reason == "kill switch (palette)"


async def test_the_jobs_pane_shows_the_daily_sync_and_runs_it_now(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from console.config import Config
    from panes.jobs import Jobs
    from services.ops.scheduler import JobsConfig
    from tests.ui.conftest import build_app

    app = build_app(tmp_path, Config(jobs=JobsConfig()))  # the default 15:30 daily sync
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        jobs = app.query_one(Jobs)
        # the defaults: sync, backup, and the summary after the close
        assert list(jobs.rows) == ["daily_sync", "backup", "summary"]
        state, backup, summary = app.services.scheduler.states()
        assert backup.next_run is not None and backup.next_run.hour == 18
        assert summary.next_run is not None and (
            summary.next_run.hour,
            summary.next_run.minute,
        ) == (
            15,
            5,
        )
        assert state.next_run is not None and state.next_run.hour == 15
        assert state.next_run.minute == 30 and state.next_run.weekday() < 5
        await pilot.press("5")  # focus the jobs pane
        assert app.focused is jobs
        await pilot.press("r")  # run now: the demo source, the demo universe
        for _ in range(200):
            await asyncio.sleep(0.05)
            if app.services.scheduler.states()[0].last_state:
                break
        await asyncio.to_thread(app.services.bus.wait_idle)
        await pilot.pause()
        state = app.services.scheduler.states()[0]
        assert state.last_state == "ok", state.last_detail
        assert "20 symbols" in state.last_detail
        cell = str(jobs.get_cell("daily_sync", "result"))
        assert cell.startswith("ok ")
        assert app.services.journal.entries("job")[-1]["payload"]["state"] == "ok"
