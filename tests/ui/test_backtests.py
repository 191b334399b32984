"""The backtests screen driven by keys: a run in the worker process with progress and
results, the console's quotes moving meanwhile, cancel, bad input, compare."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input, ProgressBar, Static

from console.app import QuantdeskApp
from console.backtests import BacktestScreen, CompareScreen
from panes.backtests import EquityChart, HeatmapTable, MetricsTable, RunsTable, TradesTable
from panes.watchlist import Watchlist
from services.events import BacktestUpdate
from tests.ui.conftest import settle

SIZE = (160, 48)


async def open_screen(pilot: Pilot[None]) -> BacktestScreen:
    await settle(pilot)
    await pilot.press("B")
    screen = pilot.app.screen
    assert isinstance(screen, BacktestScreen)
    return screen


def record(screen: BacktestScreen) -> list[BacktestUpdate]:
    seen: list[BacktestUpdate] = []
    apply = screen.apply

    def spy(update: BacktestUpdate) -> None:
        seen.append(update)
        apply(update)

    screen.apply = spy  # type: ignore[method-assign]
    return seen


async def until(pilot: Pilot[None], ok: object, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not ok():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)
        await pilot.pause()


def status(screen: BacktestScreen) -> str:
    return str(screen.query_one("#bt-status", Static).render())


async def test_a_sweep_runs_in_the_worker_while_quotes_keep_moving(app: QuantdeskApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot)
        seen = record(screen)
        screen.query_one("#bt-grid", Input).value = "fast=2:60:1 slow=5:120:5"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: any(u.state == "running" for u in seen))
        # the run is in another process: the console still takes quotes and draws them
        watchlist = app.query_one(Watchlist)
        before = str(watchlist.get_cell("600519.SSE", "last"))
        was_running = app.services.backtests.busy
        await settle(pilot, 30)
        assert was_running and str(watchlist.get_cell("600519.SSE", "last")) != before
        await until(pilot, lambda: screen.doc is not None)
        doc = screen.doc
        assert doc is not None and len(doc["sweep"]) > 1000
        progress = [u for u in seen if u.state == "running" and u.total]
        assert progress and progress[-1].done > 0  # the bar moved through the sweep
        assert screen.query_one("#bt-progress", ProgressBar).percentage == 1.0
        assert screen.query_one(MetricsTable).row_count == 11
        # the demo's 600519 is an A-share: point in time, and the table says what it paid
        paid = len(doc["dividends"])
        chart = screen.query_one(EquityChart).render().plain
        assert paid and chart.startswith(f"pit · {paid} dividends, ")
        assert screen.query_one(TradesTable).row_count == len(doc["trades"]) > 0
        assert screen.query_one(HeatmapTable).row_count == len(doc["heatmap"]["rows"]["values"])
        runs = screen.query_one(RunsTable)
        assert runs.row_count == 1 and doc["run_id"] == 1 and doc["snapshot"]
        assert "done, saved as run 1" in status(screen)


async def test_cancel_a_long_run_with_escape_then_escape_goes_back(app: QuantdeskApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot)
        seen = record(screen)
        screen.query_one("#bt-grid", Input).value = "fast=2:200:1 slow=3:400:1"
        await pilot.press("ctrl+s")  # 79,202 combinations: above max_combinations, it asks
        from console.dialogs import ConfirmScreen

        assert isinstance(app.screen, ConfirmScreen)
        assert "79,202 combinations" in app.screen.question and not app.services.backtests.busy
        await pilot.press("y")
        await until(pilot, lambda: any(u.state == "running" and u.done > 0 for u in seen))
        await pilot.press("escape")
        await until(pilot, lambda: any(u.state == "cancelled" for u in seen), timeout=10)
        assert not app.services.backtests.busy
        assert screen.doc is None and "cancelled" in status(screen)
        assert isinstance(app.screen, BacktestScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, BacktestScreen)


async def test_bad_form_input_is_named_and_nothing_runs(app: QuantdeskApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot)
        screen.query_one("#bt-params", Input).value = "fastt=3"
        await pilot.press("ctrl+s")
        error = str(screen.query_one("#bt-error", Static).render())
        assert "ma_cross has no parameter 'fastt'" in error
        assert not app.services.backtests.busy
        screen.query_one("#bt-params", Input).value = "fast=10 slow=30"
        screen.query_one("#bt-start", Input).value = "2020-13-01"
        await pilot.press("ctrl+s")
        assert "Start: expected a date" in str(screen.query_one("#bt-error", Static).render())


async def test_two_saved_runs_compare_side_by_side(app: QuantdeskApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot)
        runs = app.services.backtests.runs
        base = {
            "strategy": "ma_cross",
            "symbol": "600519.SSE",
            "start": "2020-01-02",
            "end": "2024-12-31",
        }
        metrics = {"sharpe": 0.5, "total_return": 0.2}
        runs.save({**base, "params": {"fast": 5.0, "slow": 20.0}, "metrics": metrics})
        runs.save(
            {**base, "params": {"fast": 10.0, "slow": 20.0}, "metrics": {**metrics, "sharpe": 0.7}}
        )
        screen.refresh_runs()
        table = screen.query_one(RunsTable)
        table.focus()
        await pilot.press("space", "down", "space", "c")
        compare = app.screen
        assert isinstance(compare, CompareScreen)
        assert ("param fast", 10.0, 5.0) in compare.rows and ("sharpe", 0.7, 0.5) in compare.rows
        await pilot.press("escape")
        assert app.screen is screen


async def test_the_screen_repaints_when_opened_again_and_keys_work_from_any_field(
    app: QuantdeskApp, tmp_path: Path
) -> None:
    """B, back, B again: the same screen is shown and drawn (it used to keep a frozen
    image of the main screen); ctrl+e and ctrl+l act from inside a form field."""
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot)
        await pilot.press("escape")
        assert app.screen is not screen
        await pilot.press("B")
        assert app.screen is screen and screen.is_attached
        field = screen.query_one("#bt-params", Input)
        field.focus()
        await pilot.press("end", "x")
        assert field.value.endswith("x")
        rendered = app.export_screenshot()
        assert "Strategy" in rendered and "Rank&#160;by" in rendered
        field.value = "fast=5 slow=20"
        await pilot.press("ctrl+s")  # from inside the field
        await until(pilot, lambda: screen.doc is not None)
        screen.reports = tmp_path / "reports"
        field.focus()
        await pilot.press("ctrl+e")
        assert screen.doc is not None
        assert (tmp_path / "reports" / f"run-{screen.doc['run_id']}.html").exists()
        await pilot.press("ctrl+l")
        assert app.focused is screen.query_one(RunsTable)
