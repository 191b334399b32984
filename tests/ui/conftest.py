"""An App over the paused simulator; tests move the market and flush frames explicitly."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from console.app import QuantdeskApp
from console.config import Config
from services.bus import BusStats
from services.runtime import Services
from services.watchlist import WatchlistStore
from tests.conftest import make_services


def build_app(data_dir: Path, **sim: object) -> QuantdeskApp:
    services = make_services(data_dir, **sim)
    config = Config()
    store = WatchlistStore(data_dir / "watchlist.json", config.watchlist.symbols, services.universe)
    app = QuantdeskApp(services, config, store, bridge_thread=False)
    # Bus timings vary run to run; everything else on screen is deterministic.
    services.bus.stats = lambda: BusStats(depth=0, lag_ms=0.2, handled=0, failures=0)  # type: ignore[method-assign]
    return app


@pytest.fixture
def app(tmp_path: Path) -> Iterator[QuantdeskApp]:
    yield build_app(tmp_path)


async def settle(pilot: Pilot[None], steps: int = 0) -> None:
    """Move the market ``steps`` quotes, let the bus drain, draw one frame."""
    app = pilot.app
    assert isinstance(app, QuantdeskApp)
    services: Services = app.services
    if steps:
        services.gateway.advance(steps)
    assert await asyncio.to_thread(services.bus.wait_idle)
    await pilot.pause()
    app.bridge.flush()
    app.bridge.flush_orders()
    await pilot.pause()
    await pilot.pause()
