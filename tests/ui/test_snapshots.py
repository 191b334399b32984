"""Snapshots of the main and help screens: seeded simulator, paused clock, fixed bus reading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from services.events import OrderIntent
from tests.ui.conftest import build_app, settle

SIZE = (160, 48)


async def trade_a_little(pilot: Pilot[None]) -> None:
    """At speed 60: 3,000 quotes (75 simulated minutes), one filled buy, one working order."""
    app: Any = pilot.app
    await settle(pilot, 3000)
    tick = app.services.market.get("600519.SSE")
    app.services.orders.submit(
        OrderIntent("snap-1", "600519.SSE", "buy", "limit", 200, tick.ask_price_1)
    )
    app.services.orders.submit(OrderIntent("snap-2", "510300.SSE", "buy", "limit", 10_000, 4.5))
    await settle(pilot, 200)


def test_main_screen(snap_compare: Any, tmp_path: Path) -> None:
    """You should see the DEMO badge and ACTIVE state in the header with equity, day P&L and
    the simulated clock (2026-11-23 10:45); the watchlist with 20 instruments (贵州茅台 first,
    its row selected) with moving quotes and sparklines; one position in 600519.SSE (200
    shares, 0 sellable under T+1); the orders pane with the filled Moutai buy and a working
    510300.SSE order; and the footer with the keys."""
    app = build_app(tmp_path, speed=60.0)
    assert snap_compare(app, terminal_size=SIZE, run_before=trade_a_little)


def test_help_screen(snap_compare: Any, tmp_path: Path) -> None:
    """You should see the help modal listing every key by scope (global, watchlist,
    positions, orders, ticket) with its binding id, ctrl+k first."""

    async def open_help(pilot: Pilot[None]) -> None:
        await settle(pilot, 10)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(build_app(tmp_path), terminal_size=SIZE, run_before=open_help)


def test_halted_screen(snap_compare: Any, tmp_path: Path) -> None:
    """You should see the header in the error colour reading "■ HALTED — kill switch
    (ctrl+k) · ctrl+r to re-arm", the orders pane with the cancelled order, and the kill-switch
    notification."""

    async def kill(pilot: Pilot[None]) -> None:
        app: Any = pilot.app
        await settle(pilot, 50)
        last = app.services.market.get("600036.SSE").last_price
        price = round(last * 0.98, 2)  # inside the 3 % price band, below the market: it works
        app.services.orders.submit(OrderIntent("k", "600036.SSE", "buy", "limit", 100, price))
        await settle(pilot)
        await pilot.press("ctrl+k")
        await settle(pilot)

    assert snap_compare(build_app(tmp_path), terminal_size=SIZE, run_before=kill)
