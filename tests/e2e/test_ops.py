"""From another shell: halt a running headless instance, read the state from the journal,
export the journal; the headless instance stops cleanly on SIGTERM."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def env(home: Path) -> dict[str, str]:
    return {"HOME": str(home), "PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}


def quantdesk(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console.cli", "--data-dir", str(data), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env(data),
        cwd=data.parent,
    )


def test_halt_state_export_and_a_clean_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "console.cli", "--data-dir", str(tmp_path), "--headless"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(tmp_path),
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # printed once the services run
        assert first.startswith("quantdesk headless on"), first
        state = json.loads(quantdesk(tmp_path, "state", "--json").stdout)
        assert state["running"] is True and state["state"] == "ACTIVE"
        halted = quantdesk(tmp_path, "halt", "--reason", "ops test")
        assert halted.returncode == 0, halted.stderr
        assert halted.stdout.startswith("halted the running quantdesk (0 cancel requests sent)")
        state = json.loads(quantdesk(tmp_path, "state", "--json").stdout)
        assert (
            state["state"] == "HALTED" and "ops test (from another shell)" in state["state_reason"]
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = (tmp_path / "logs" / "quantdesk.log").read_text(encoding="utf-8")
    assert "halted from another shell" in log and "quantdesk headless: stopped cleanly" in log
    state = json.loads(quantdesk(tmp_path, "state", "--json").stdout)
    assert state["running"] is False and state["state"] == "HALTED"
    rows = list(csv.DictReader(io.StringIO(quantdesk(tmp_path, "journal", "export").stdout)))
    assert [r["kind"] for r in rows] == ["state", "cancel_all"]  # the halt, then its cancels
    assert json.loads(rows[0]["payload"])["state"] == "HALTED"
    lines = quantdesk(tmp_path, "journal", "export", "--format", "json", "--since", "2999-01-01")
    assert lines.returncode == 0 and lines.stdout == ""


def test_halt_with_nothing_running_halts_the_next_start(tmp_path: Path) -> None:
    done = quantdesk(tmp_path, "halt")
    assert done.returncode == 0 and "no quantdesk is running" in done.stdout
    state = json.loads(quantdesk(tmp_path, "state", "--json").stdout)
    assert state["state"] == "HALTED" and state["running"] is False
    missing = quantdesk(tmp_path / "elsewhere", "state")  # nothing traded there: empty, ACTIVE
    assert missing.returncode == 0 and "no demo journal in" in missing.stdout
    assert not os.path.exists(tmp_path / "elsewhere" / "journal.sqlite3")
