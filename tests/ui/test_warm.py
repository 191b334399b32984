"""The first backtest after an install does not look hung: numba compiles the engine's
kernels for a minute or more on a busy machine. The console compiles them in the
background at start when the cache is cold; a run that finds the cache cold says it is
compiling; either way the cache is marked warm and later runs compile nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import Input

from console.config import Config
from services.backtest.cache import COMPILING, is_warm
from services.backtest.runner import WORKER_NICENESS
from tests.ui.conftest import NO_JOBS, build_app
from tests.ui.test_backtests import open_screen, record, until

SIZE = (160, 48)


@pytest.fixture
def cold_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A numba cache nothing was compiled into (the worker process inherits it)."""
    cache = tmp_path / "numba"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(cache))
    return cache


async def test_a_run_on_a_cold_cache_says_it_is_compiling(cold_cache: Path, tmp_path: Path) -> None:
    app = build_app(tmp_path / "data")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot)
        seen = record(screen)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: screen.doc is not None, timeout=240)
        said = [u.what for u in seen if u.state == "running"]
        assert said[0] == COMPILING  # before the run's own steps, while numba works
        assert is_warm(cold_cache)
        worker = app.services.backtests._proc
        assert os.getpriority(os.PRIO_PROCESS, worker.pid) >= WORKER_NICENESS
        seen.clear()
        await pilot.press("ctrl+s")  # warm now: nothing to say about compiling
        await until(pilot, lambda: any(u.state == "done" for u in seen), timeout=60)
        assert COMPILING not in [u.what for u in seen]


async def test_the_console_warms_a_cold_cache_at_start(cold_cache: Path, tmp_path: Path) -> None:
    config: Config = replace(NO_JOBS, backtest=replace(NO_JOBS.backtest, warm_at_start=True))
    app = build_app(tmp_path / "data", config)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: is_warm(cold_cache), timeout=240)
        assert not app.services.backtests.busy  # a warm-up is no run: B is free meanwhile
        screen = await open_screen(pilot)
        seen = record(screen)
        screen.query_one("#bt-oos", Input).value = "0.3"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: any(u.state == "done" for u in seen), timeout=60)
        assert COMPILING not in [u.what for u in seen]


def test_a_warm_cache_compiles_nothing_in_a_new_process(tmp_path: Path) -> None:
    """The mark is honest: a fresh process that finds it warm loads every kernel from the
    cache (numba's own counters: no cache miss)."""
    cache = tmp_path / "numba"
    script = (
        "import sys; from pathlib import Path\n"
        "from services.backtest.cache import ensure_warm, warm\n"
        "ensure_warm(Path(sys.argv[1]), lambda what: print('SAID', what))\n"
        "if sys.argv[2] == 'check':\n"
        "    from services.backtest import kernel\n"
        "    warm(Path(sys.argv[1]))  # every kernel called again, from the cache\n"
        "    misses = sum(len(f.stats.cache_misses) for f in vars(kernel).values()\n"
        "                 if hasattr(f, 'stats'))\n"
        "    print('MISSES', misses)\n"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    first = subprocess.run(
        [sys.executable, "-c", script, str(cache), "first"], env=env, capture_output=True, text=True
    )
    assert first.returncode == 0, first.stderr
    assert f"SAID {COMPILING}" in first.stdout and is_warm(cache)
    again = subprocess.run(
        [sys.executable, "-c", script, str(cache), "check"], env=env, capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    assert "SAID" not in again.stdout and "MISSES 0" in again.stdout
    (cache / "warm.txt").write_text("an older install\n")
    assert not is_warm(cache)  # an upgrade: compiled again, and said so
