"""The real ``quantdesk`` command in a real terminal (tmux), as a user starts it.

(That nothing is written outside the UI is checked by test_no_output.py: in a
terminal, a stray write lands on the alternate screen and is gone at exit.)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

TMUX = shutil.which("tmux")
QUANTDESK = Path(sys.executable).parent / "quantdesk"


def tmux(session: str, *args: str) -> str:
    return subprocess.run(
        ["tmux", "-u", "-L", session, *args], capture_output=True, text=True, check=True
    ).stdout


def capture(session: str) -> str:
    return tmux(session, "capture-pane", "-p", "-t", session)


def wait_for(session: str, test: Callable[[str], bool], timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = capture(session)
        if test(screen):
            return screen
        time.sleep(0.2)
    raise AssertionError(f"timed out; the screen was:\n{screen}")


def start_quantdesk(name: str, arguments: str, width: int = 160, height: int = 48) -> None:
    """``quantdesk ARGUMENTS`` in a new tmux server of its own, named ``name``; when it
    exits the pane says ``QUANTDESK-EXITED <status>`` for 30 s."""
    command = f"TERM=xterm-256color {QUANTDESK} {arguments}; echo QUANTDESK-EXITED $?; sleep 30"
    # -u: UTF-8 whatever the locale says (the names are Chinese); own socket: no user server.
    # COLUMNS and LINES would override the terminal's size (pytest-xdist's workers set 80x24).
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    subprocess.run(
        [
            *("tmux", "-u", "-L", name, "new-session", "-d", "-s", name),
            *("-x", str(width), "-y", str(height), command),
        ],
        check=True,
        env={**env, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"},
    )


@pytest.fixture
def session(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    if TMUX is None:
        pytest.fail("tmux is required for the end-to-end test (.ci/run installs it)")
    assert QUANTDESK.exists(), f"{QUANTDESK} missing: install the package first"
    name = f"qd-e2e-{uuid.uuid4().hex[:8]}"
    config = tmp_path / "config.toml"
    config.write_text("[sim]\nspeed = 60.0\nticks_per_second = 200.0\n", encoding="utf-8")
    start_quantdesk(name, f"--data-dir {tmp_path / 'data'} --config {config}")
    try:
        yield name, tmp_path
    finally:
        subprocess.run(["tmux", "-L", name, "kill-server"], capture_output=True)


def moutai_row(screen: str) -> str:
    match = re.search(r"600519\.SSE.*", screen)
    assert match, screen
    return match.group(0)


def test_quotes_move_kill_switch_halts_and_nothing_leaks_to_the_terminal(
    session: tuple[str, Path],
) -> None:
    name, tmp = session
    first = wait_for(name, lambda s: "ACTIVE" in s and "600519.SSE" in s and "万" in s)
    assert "DEMO" in first and "贵州茅台" in first
    row = moutai_row(first)
    clock = re.search(r"2026-11-23 \d\d:\d\d:\d\d", first)
    assert clock, first
    moved = wait_for(name, lambda s: clock.group(0) not in s and moutai_row(s) != row)
    assert "Traceback" not in moved
    tmux(name, "send-keys", "-t", name, "C-k")
    halted = wait_for(name, lambda s: "HALTED" in s)
    assert "ctrl+r to re-arm" in halted
    tmux(name, "send-keys", "-t", name, "q")
    done = wait_for(name, lambda s: "QUANTDESK-EXITED" in s)
    assert "QUANTDESK-EXITED 0" in done
    assert done.strip().splitlines()[0].startswith("QUANTDESK-EXITED")  # a clean terminal
    # the HALT was persisted: the journal says so
    import sqlite3

    db = sqlite3.connect(tmp / "data" / "journal.sqlite3")
    (state,) = db.execute("SELECT value FROM state WHERE key = 'trading_state'").fetchone()
    assert '"HALTED"' in state
    log = (tmp / "data" / "logs" / "quantdesk.log").read_text()
    assert "ERROR" not in log and "Traceback" not in log


def ticket_fields(screen: str) -> tuple[str, str] | None:
    qty = re.search(r"Quantity\s+(\S*)", screen)
    price = re.search(r"Price {2,}(\S*)", screen)
    return (qty.group(1), price.group(1)) if qty and price else None


def test_keys_sent_in_one_burst_apply_in_typing_order(session: tuple[str, Path]) -> None:
    """Textual 8.2.8 (its issue #6605) ran Backspace, End, Left and Tab -- bindings --
    after printable keys that arrived with them; tmux sends a whole send-keys in one
    write, as a fast typist or a macro does."""
    name, _ = session
    wait_for(name, lambda s: "ACTIVE" in s and "万" in s)
    # open the ticket and edit both fields before it has even drawn
    tmux(name, "send-keys", "-t", name, "b", "End", *["BSpace"] * 3, "3", "0", "0", "Tab")
    tmux(name, "send-keys", "-t", name, "9", "9", "9", "Left", "Left", "BSpace", "8")
    wait_for(name, lambda s: ticket_fields(s) == ("300", "899"), timeout=10)
    tmux(name, "send-keys", "-t", name, "Escape")
    wait_for(name, lambda s: "Quantity" not in s)
    # the issue's own example: "5123", then four Backspaces and "100" in one burst
    tmux(name, "send-keys", "-t", name, "s", "5", "1", "2", "3", "End", *["BSpace"] * 4)
    tmux(name, "send-keys", "-t", name, "1", "0", "0", "Tab", "9", "BSpace", "7")
    wait_for(name, lambda s: ticket_fields(s) == ("100", "7"), timeout=10)
