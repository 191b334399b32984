"""Nothing is written to stdout or stderr while the console runs.

The real CLI path (file logging, services, vnpy, the ArcticDB worker, an
order, a fill, the kill switch, a backtest in its worker process) runs with
Textual's headless driver, which draws nothing, so every byte on the captured pipes would be a leak.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import sys
from console import cli
from console.app import QuantdeskApp

async def drive(pilot):
    app = pilot.app
    await app.workers.wait_for_complete()   # the ArcticDB store is open
    await pilot.pause(0.5)
    await pilot.press("b")
    await pilot.press("enter")               # review
    await pilot.press("enter")               # send: fills at the ask
    for _ in range(100):                     # a loaded machine may take a while
        await pilot.pause(0.1)
        if app.services.portfolio.view().positions:
            break
    await pilot.press("ctrl+k")
    await pilot.pause(0.3)
    assert app.services.control.state.name == "HALTED"
    assert app.services.portfolio.view().positions, "the buy should have filled"
    await pilot.press("B")                   # a backtest in the worker process
    await pilot.press("ctrl+s")
    for _ in range(1200):
        await pilot.pause(0.1)
        if app.services.backtests.runs.list():
            break
    assert app.services.backtests.runs.list(), "the backtest did not finish"
    await pilot.press("escape")
    app.exit()

run = QuantdeskApp.run
QuantdeskApp.run = lambda self, **kw: run(self, headless=True, auto_pilot=drive, size=(160, 48))
cli.needs_terminal = lambda: ""  # headless Textual draws nowhere: no terminal needed
sys.exit(cli.main(sys.argv[1:]))
"""


def test_the_console_writes_nothing_outside_the_ui(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
        env={"HOME": str(tmp_path), "PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr == ""
    log = (tmp_path / "logs" / "quantdesk.log").read_text(encoding="utf-8")
    assert "filled BUY 100 600519.SSE" in log  # it really traded, and logged to the file
    assert "trading state ACTIVE → HALTED" in log
    assert not (tmp_path / ".vntrader").exists()
    assert "backtest 1 done: ma_cross 600519.SSE saved as run 1" in log
    assert list((tmp_path / "cache" / "numba").rglob("*.nbi")), "numba cache not under the data dir"
