"""Shared fixtures: services over a paused (test-driven) simulated market."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.accounting.costs import CostConfig
from services.alerts.wiring import Alerting
from services.bus import Bus
from services.data.sync import DataConfig
from services.ops.scheduler import JobsConfig
from services.runtime import AccountConfig, Services, build_services
from services.trading.live import StrategySpec
from services.venues.simulator import SimConfig


def make_services(
    data_dir: Path,
    jobs: JobsConfig | None = None,
    strategies: list[StrategySpec] | None = None,
    alerting: Alerting | None = None,
    **sim: object,
) -> Services:
    return build_services(
        data_dir,
        sim=SimConfig(**sim),  # type: ignore[arg-type]
        costs=CostConfig(),
        account=AccountConfig(),
        paced=False,
        data=DataConfig(source="demo"),
        jobs=jobs or JobsConfig(daily_sync="", backup="", daily_summary=""),
        strategies=strategies,
        alerting=alerting,
    )


@pytest.fixture
def bus() -> Iterator[Bus]:
    """A running bus of its own."""
    running = Bus()
    running.start()
    yield running
    running.stop()


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    """Started services whose market moves only when the test calls ``gateway.advance``."""
    svc = make_services(tmp_path)
    svc.start()
    assert svc.bus.wait_idle()
    yield svc
    svc.stop()


@pytest.fixture(autouse=True)
def no_remembered_secrets() -> Iterator[None]:
    """Secrets remembered for masking (services.ops.redact) are process-wide: each test
    starts with none, so one test's channel URL does not mask another's text."""
    from services.ops.redact import forget_all

    forget_all()
    yield
    forget_all()


@pytest.fixture(scope="session", autouse=True)
def shared_numba_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One numba cache for the session: backtest workers compile the kernel once, not per test."""
    import os

    os.environ.setdefault("NUMBA_CACHE_DIR", str(tmp_path_factory.mktemp("numba")))
    yield


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with the demo history, made once a session (``quantdesk data
    demo``); a test copies it (:func:`copy_data_dir`) rather than writing its own."""
    from console.cli import main

    data = tmp_path_factory.mktemp("demo") / "data"
    assert main(["data", "demo", "--data-dir", str(data)]) == 0
    return data


def copy_data_dir(source: Path, target: Path) -> Path:
    """``source`` copied to ``target`` without its locks (LMDB's and quantdesk's)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.lock", "lock.mdb"))
    return target
