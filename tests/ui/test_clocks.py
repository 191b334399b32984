"""One clock rule on every screen: what happened on this machine (a halt, a reading,
a rejection) is shown on the exchanges' clock and says CST, whatever the server's own
zone -- here UTC, as on most servers, eight hours behind Shanghai."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from rich.table import Table
from textual.widgets import Static

from console.risk_screen import RiskScreen
from console.system_screen import SystemScreen
from panes.risk import RejectionsTable
from services.clock import cst
from services.events import OrderIntent
from tests.ui.conftest import build_app, settle


@pytest.fixture
def server_in_utc() -> Iterator[None]:
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_a_server_time_is_shown_on_the_exchanges_clock(server_in_utc: None) -> None:
    assert cst(datetime(2026, 12, 4, 2, 0, 5)) == "10:00:05 CST"  # naive: the server's UTC
    assert cst(datetime(2026, 12, 4, 17, 0), "%Y-%m-%d %H:%M") == "2026-12-05 01:00 CST"


async def test_halt_risk_and_system_screens_say_cst(server_in_utc: None, tmp_path: Path) -> None:
    app = build_app(tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot, 5)
        app.services.kill_switch("test halt")
        halted_at = app.services.control.since
        app.services.orders.submit(OrderIntent("r1", "600519.SSE", "buy", "limit", 100, 1.0))
        await settle(pilot)
        await pilot.press(app.key("risk"))
        screen = app.screen
        assert isinstance(screen, RiskScreen)
        state = str(screen.query_one("#risk-state", Static).render())
        assert state.endswith(f"since {cst(halted_at)}")
        assert halted_at.hour != int(cst(halted_at)[:2])  # converted, not the server's hour
        rejections = screen.query_one(RejectionsTable)
        assert "(CST)" in str(rejections.border_title)
        at, _ = app.services.risk.rejections[0]
        assert str(rejections.get_row_at(0)[0]) == cst(at).removesuffix(" CST")
        await pilot.press("escape")
        await pilot.press(app.key("system"))
        assert isinstance(app.screen, SystemScreen)
        table = app.screen.query_one("#system-table", Static).content
        assert isinstance(table, Table)
        assert re.fullmatch(
            r"System monitor · read \d\d:\d\d:\d\d CST · every .*", str(table.title)
        )
