"""An App over the paused simulator; tests move the market and flush frames explicitly.

The store is seeded with demo history once per session and copied into each
test's data directory, so that the market opens from stored closes as in real
use without every test paying for the seeding.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from console.app import QuantdeskApp
from console.config import Config
from services.alerts.wiring import Alerting
from services.backtest.rules import BacktestConfig
from services.bus import BusStats
from services.ops.scheduler import JobsConfig
from services.ops.watchlist import WatchlistStore
from services.runtime import Services
from tests.conftest import make_services

_TEMPLATE: list[Path] = []
NO_JOBS = Config(
    jobs=JobsConfig(daily_sync="", backup="", daily_summary=""),  # times depend on today
    backtest=BacktestConfig(warm_at_start=False),  # test_warm.py tests the warm-up
)


@pytest.fixture(scope="session", autouse=True)
def seeded_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    template = tmp_path_factory.mktemp("seeded")
    services = make_services(template)
    prep = services.prepare_market()
    assert prep.error == "" and prep.seeded, prep
    services.stop()
    _TEMPLATE.append(template)
    yield template


def build_app(
    data_dir: Path,
    config: Config = NO_JOBS,
    strategies: list[Any] | None = None,
    alerting: Alerting | None = None,
    **sim: object,
) -> QuantdeskApp:
    data_dir.mkdir(parents=True, exist_ok=True)
    if _TEMPLATE and not (data_dir / "arctic").exists():
        shutil.copytree(_TEMPLATE[0] / "arctic", data_dir / "arctic")
    services = make_services(
        data_dir, jobs=config.jobs, strategies=strategies, alerting=alerting, **sim
    )
    store = WatchlistStore(data_dir / "watchlist.json", config.watchlist.symbols, services.universe)
    app = QuantdeskApp(services, config, store, bridge_thread=False)
    # Bus timings and the machine's readings vary run to run; everything else on screen
    # is deterministic (the system monitor reads once an hour here: M reads on demand).
    assert services.health is not None
    services.health.config = replace(services.health.config, interval_s=3600)
    services.bus.stats = lambda: BusStats(depth=0, lag_ms=0.2, handled=0, failures=0)  # type: ignore[method-assign]
    return app


@pytest.fixture
def app(tmp_path: Path) -> Iterator[QuantdeskApp]:
    yield build_app(tmp_path)


async def settle(pilot: Pilot[None], steps: int = 0) -> None:
    """Wait for the market to open, move it ``steps`` quotes, let the bus drain, draw a frame."""
    app = pilot.app
    assert isinstance(app, QuantdeskApp)
    services: Services = app.services
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert services.started, "the market did not open"
    if steps:
        services.gateway.advance(steps)
    assert await asyncio.to_thread(services.bus.wait_idle)
    await pilot.pause()
    app.bridge.flush()
    app.bridge.flush_orders()
    await pilot.pause()
    await pilot.pause()
