"""Several live accounts on screen: the accounts bar, and ctrl+n switching what is shown."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.text import Text

from console.app import QuantdeskApp
from console.config import Config
from panes.accounts import AccountLine, AccountsBar, _part
from panes.header import StatusHeader
from panes.orders import Orders
from services.events import OrderIntent, TradingState
from services.ops.scheduler import JobsConfig
from services.ops.watchlist import WatchlistStore
from tests.unit.venues.conftest import Broker, live_services, start_broker

GATEWAY = "services.venues.scripted:ScriptedGateway"


@pytest.fixture
def brokers() -> Iterator[list[Broker]]:
    folder = Path(tempfile.mkdtemp(prefix="qdu", dir="/tmp"))  # a Unix socket path is short
    running = [start_broker(folder / name) for name in ("b1", "b2")]
    yield running
    for broker in running:
        broker.process.kill()
        broker.process.wait()
    shutil.rmtree(folder, ignore_errors=True)


async def test_switching_accounts_shows_each_ones_orders_and_header(
    tmp_path: Path, brokers: list[Broker]
) -> None:
    from services.venues.accounts import AccountSpec

    specs = [
        AccountSpec(a, GATEWAY, {"socket": str(b.path)}, quotes="sim")
        for a, b in zip(("s1", "s2"), brokers, strict=True)
    ]
    services = live_services(tmp_path / "data", *specs)
    config = Config(jobs=JobsConfig(daily_sync="", backup="", daily_summary=""), strategies=())
    store = WatchlistStore(tmp_path / "w.json", ("600036.SSE",), services.universe)
    app = QuantdeskApp(services, config, store)
    async with app.run_test(size=(120, 40)) as pilot:
        deadline = time.monotonic() + 10
        while any(d.orders.blocked for d in services.desks):  # reconciled at connect
            assert time.monotonic() < deadline, [d.orders.blocked for d in services.desks]
            await pilot.pause(0.05)
        tick = services.market.get("600036.SSE")
        assert tick is not None
        price = round(tick.bid_price_1, 2)
        s1, s2 = services.desks
        assert s1.orders.submit(
            OrderIntent("u-1", "600036.SSE", "buy", "limit", 100, price)
        ).accepted
        assert s2.orders.submit(
            OrderIntent("u-2", "600036.SSE", "buy", "limit", 300, price)
        ).accepted
        await pilot.pause(0.5)
        orders = app.main.query_one(Orders)
        assert [o.gateway_name for o in orders.orders.values()] == ["s1"]  # s1's, on screen
        bar = app.main.query_one(AccountsBar)
        assert bar.display and "▶s1 ● ACTIVE" in bar.render().plain
        await pilot.press("ctrl+n")
        await pilot.pause(0.2)
        assert services.account_id == "s2"
        assert [(o.gateway_name, o.volume) for o in orders.orders.values()] == [("s2", 300)]
        header = app.main.query_one(StatusHeader).render().plain
        assert header.startswith(" LIVE s2 ")
        assert "▶s2" in bar.render().plain
        s1.control.halt("test: s1 alone")
        await pilot.pause(0.3)
        assert "■ HALTED" not in app.main.query_one(StatusHeader).render().plain  # s2's header
        assert "s1 ■ HALTED" in bar.render().plain  # ...and s1's halt in sight
        await pilot.press("ctrl+n")
        await pilot.pause(0.2)
        assert "■ HALTED" in app.main.query_one(StatusHeader).render().plain
        await pilot.press("ctrl+k")  # the kill switch: every account
        await pilot.pause(0.2)
        assert {d.control.state for d in services.desks} == {TradingState.HALTED}


def test_a_narrow_accounts_bar_keeps_ids_states_and_a_broken_link() -> None:
    line = AccountLine("main", TradingState.HALTED, "broker DOWN: refused", True, 1e6, -5.0)
    assert _part(line, 2).plain == " main ■ HALTED broker DOWN: refused 1,000,000 -5"
    ok = AccountLine("alt", TradingState.ACTIVE, "broker ●", False, 5e5, 0.0, selected=True)
    assert _part(ok, 1).plain == "▶alt ● ACTIVE 500,000 +0"  # a working link gives way first
    assert _part(ok, 0).plain == "▶alt ● ACTIVE 500,000"
    assert isinstance(_part(line, 0), Text) and "DOWN" in _part(line, 0).plain  # never hidden
