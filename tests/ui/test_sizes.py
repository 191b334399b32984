"""The console at the sizes the README promises (120x40 and 160x48): orders visible,
columns that give way by priority and say so, numbers never cut, a header that keeps
its bus indicator; and the smaller promises: one clock, the palette's Quit, the
strategies' published state, the sell ticket's quantity."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import Input

from console.app import QuantdeskApp
from console.dialogs import ConfirmScreen
from console.ticket import TicketScreen
from panes.header import StatusHeader
from panes.orders import Orders
from panes.positions import Positions
from panes.strategies import StrategiesTable
from panes.table import Col, compact
from panes.watchlist import Watchlist
from services.events import OrderIntent
from services.trading.live import StrategySpec
from tests.ui.conftest import build_app, settle

SMALL, LARGE = (120, 40), (160, 48)


def test_numbers_are_abbreviated_with_units_never_cut() -> None:
    assert compact("17,700", 8) == "17,700"
    assert compact("17,700", 5) == "17.7k"
    assert compact("-1,234,567.89", 7) == "-1.23M"
    assert compact("2,500,000,000", 4) == "2.5B"
    assert compact("1467.785", 7) == "1467.79"
    assert compact("a long rejection reason", 10) == "a long re…"


async def place_orders(app: QuantdeskApp, n: int = 3) -> None:
    tick = app.services.market.get("600036.SSE")
    assert tick is not None
    for i in range(n):
        app.services.orders.submit(
            OrderIntent(
                f"w{i}", "600036.SSE", "buy", "limit", 100, round(tick.bid_price_1 - 1 - i / 10, 2)
            )
        )


async def test_at_120x40_the_orders_show_and_hidden_columns_are_named(
    app: QuantdeskApp,
) -> None:
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot, 20)
        await place_orders(app)
        await settle(pilot)
        orders = app.query_one(Orders)
        assert orders.row_count == 3
        assert orders.content_region.height >= 4  # the header and three orders show
        shot = app.export_screenshot()
        for orderid in ("1", "2", "3"):
            assert "600036.SSE" in shot and orderid in shot
        watchlist = app.query_one(Watchlist)
        shown = [c.key for c in watchlist.shown_columns]
        assert shown[:5] == ["symbol", "last", "change", "bid", "ask"]
        # as many names as the border holds, the rest counted
        assert str(watchlist.border_subtitle).endswith("hidden: Name, BidVol +5")
        header = app.query_one(StatusHeader)
        assert "bus" in header.render().plain


async def test_at_160x48_the_watchlist_shows_the_touch_with_sizes(app: QuantdeskApp) -> None:
    async with app.run_test(size=LARGE) as pilot:
        await settle(pilot, 20)
        watchlist = app.query_one(Watchlist)
        shown = [c.key for c in watchlist.shown_columns]
        assert shown == ["symbol", "name", "last", "change", "bid", "ask", "bidv", "askv", "volume"]
        assert "hidden: Amount, Limits ↓/↑, Intraday" in str(watchlist.border_subtitle)
        positions = app.query_one(Positions)
        assert [c.key for c in positions.shown_columns][:2] == ["symbol", "qty"]


async def test_a_halted_header_keeps_the_bus_indicator(app: QuantdeskApp) -> None:
    async with app.run_test(size=LARGE) as pilot:
        await settle(pilot, 5)
        app.services.kill_switch("the risk desk asked for a stop while the feed is checked " * 3)
        await settle(pilot)
        line = app.query_one(StatusHeader).render().plain
        assert line.startswith(" DEMO  ■ HALTED — the risk desk")
        assert "…" in line and "bus 0.2 ms / 0" in line and len(line) <= LARGE[0]


async def test_columns_give_way_by_priority_and_come_back(app: QuantdeskApp) -> None:
    async with app.run_test(size=LARGE) as pilot:
        await settle(pilot, 20)
        watchlist = app.query_one(Watchlist)
        assert watchlist.cell("600519.SSE", "name") == "贵州茅台"
        await pilot.resize_terminal(*SMALL)
        await pilot.pause()
        assert "name" not in [c.key for c in watchlist.shown_columns]
        await pilot.resize_terminal(*LARGE)
        await pilot.pause()
        assert str(watchlist.get_cell("600519.SSE", "name")) == "贵州茅台"  # filled again


def test_a_fill_column_takes_the_rest() -> None:
    class T(Orders):
        pass

    table = T()
    cols = table.columns_for(200)
    note = next(c for c in cols if c.key == "note")
    assert note.width > 40 and isinstance(note, Col)
    assert "note" not in [c.key for c in table.columns_for(60)]


async def test_the_palette_quit_asks_when_orders_are_working(app: QuantdeskApp) -> None:
    async with app.run_test(size=LARGE) as pilot:
        await settle(pilot, 20)
        await place_orders(app, 1)
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert titles.count("Quit") == 1  # ours; Textual's own (which did not ask) is gone
        app.action_quit()  # ctrl+q and any other path to Textual's quit
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and app.is_running
        await pilot.press("n")


SPEC = StrategySpec("demo-ma", "ma_cross", ("600519.SSE",), {"fast": 5, "slow": 20})


async def test_a_halt_from_another_shell_stops_the_strategies_on_screen(tmp_path: Path) -> None:
    app = build_app(tmp_path, strategies=[SPEC])
    async with app.run_test(size=LARGE) as pilot:
        await settle(pilot, 5)
        table = app.query_one(StrategiesTable)
        assert "running" in str(table.get_cell("demo-ma", "state"))
        # the control socket's thread calls the kill switch, never the UI
        await asyncio.to_thread(app.services.kill_switch, "quantdesk halt (from another shell)")
        await settle(pilot)
        assert "stopped" in str(table.get_cell("demo-ma", "state"))
    again = build_app(tmp_path, strategies=[SPEC])  # a restart while HALTED
    async with again.run_test(size=LARGE) as pilot:
        await settle(pilot, 5)
        table = again.query_one(StrategiesTable)
        assert "stopped" in str(table.get_cell("demo-ma", "state"))
        assert again.services.live.running == set()


async def test_rearming_says_strategies_stay_stopped(tmp_path: Path) -> None:
    app = build_app(tmp_path, strategies=[SPEC])
    async with app.run_test(size=LARGE) as pilot:
        await settle(pilot, 5)
        app.services.kill_switch("test")
        await settle(pilot)
        notes: list[str] = []
        real = app.notify
        app.notify = lambda message, **kw: notes.append(message) or real(message, **kw)  # type: ignore[method-assign]
        await pilot.press("ctrl+r")
        await pilot.press("A", "R", "M", "enter")
        await pilot.pause()
        assert any("Strategies stay stopped until you start them (demo-ma" in n for n in notes)


async def test_a_position_sell_ticket_is_prefilled_with_what_is_sellable(
    app: QuantdeskApp,
) -> None:
    async with app.run_test(size=LARGE) as pilot:
        await settle(pilot, 20)
        tick = app.services.market.get("600519.SSE")
        assert tick is not None
        app.services.orders.submit(
            OrderIntent("b", "600519.SSE", "buy", "limit", 100, tick.ask_price_1)
        )
        await settle(pilot)
        app.query_one(Positions).focus()
        await pilot.press("s")
        ticket = app.screen
        assert isinstance(ticket, TicketScreen)
        assert ticket.query_one("#qty", Input).value == "0"  # bought today: T+1, none sellable


async def test_an_unusable_or_emptied_store_is_said_in_the_header(tmp_path: Path) -> None:
    import shutil

    from console.config import Config
    from services.accounting.costs import CostConfig
    from services.data.sync import DataConfig
    from services.ops.scheduler import JobsConfig
    from services.ops.watchlist import WatchlistStore
    from services.runtime import AccountConfig, build_services
    from services.venues.simulator import SimConfig

    broken = build_services(
        tmp_path / "a",
        sim=SimConfig(),
        costs=CostConfig(),
        account=AccountConfig(),
        paced=False,
        store="lmdb:///proc/quantdesk-cannot-be-here/arctic",
        data=DataConfig(source="demo"),
        jobs=JobsConfig(daily_sync="", backup="", daily_summary=""),
    )
    config = Config(jobs=JobsConfig(daily_sync="", backup="", daily_summary=""))
    store = WatchlistStore(tmp_path / "a" / "w.json", config.watchlist.symbols, broken.universe)
    app = QuantdeskApp(broken, config, store, bridge_thread=False)
    async with app.run_test(size=LARGE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "STORE UNUSABLE" in app.query_one(StatusHeader).render().plain
    seeded = build_app(tmp_path / "b")  # a data directory in use whose store was deleted
    async with seeded.run_test(size=LARGE) as pilot:
        await settle(pilot)
    shutil.rmtree(tmp_path / "b" / "arctic")
    again = build_app(tmp_path / "b")
    shutil.rmtree(tmp_path / "b" / "arctic")  # build_app copies the template: remove it again
    async with again.run_test(size=LARGE) as pilot:
        await again.workers.wait_for_complete()
        await pilot.pause()
        assert "STORE EMPTY" in again.query_one(StatusHeader).render().plain
        assert again.services.store.symbols("1d") == []  # not refilled with demo bars
