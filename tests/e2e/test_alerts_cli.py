"""Alerts as a trader sets them up: the channel's apprise URL stored in the encrypted-file
keyring, ``quantdesk alerts test`` sending one, a headless quantdesk HALTed from another
shell telling the channel, ``alerts list`` showing it; a missing secret stops the start
with what to do, and no URL or token ever reaches the terminal."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.alert_servers import HTTPStandIn, Script

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
CONFIG = """
[jobs]
daily_sync = ""
backup = ""
daily_summary = ""

[alerts.channels.phone]
secret = "alerts.phone"
min_severity = "warning"
"""


def env(tmp: Path) -> dict[str, str]:
    home = tmp / "home"
    return {
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "PYTHONPATH": str(REPO),
        "PATH": "/usr/bin:/bin",
        "QUANTDESK_KEYRING_PASSPHRASE": "correct horse",
        "LANG": "C.UTF-8",
    }


def command(tmp: Path, *args: str) -> list[str]:
    """The quantdesk command on this test's data directory and config."""
    data, config = str(tmp / "data"), str(tmp / "config.toml")
    return [sys.executable, "-m", "console.cli", "--data-dir", data, "--config", config, *args]


def quantdesk(tmp: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(tmp, *args),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env(tmp),
        cwd=tmp,
    )


def setup(tmp: Path, server: HTTPStandIn, path: str = "phone-SECRETPATH42") -> str:
    (tmp / "config.toml").write_text(CONFIG, encoding="utf-8")
    url = f"json://127.0.0.1:{server.port}/{path}"
    stored = quantdesk(tmp, "secrets", "set", "alerts.phone", stdin=url + "\n")
    assert stored.returncode == 0, stored.stderr
    return url


def test_alerts_test_sends_one_and_says_whether_it_arrived(tmp_path: Path) -> None:
    server = HTTPStandIn()
    try:
        setup(tmp_path, server)
        listed = quantdesk(tmp_path, "alerts", "channels")
        assert listed.stdout.split()[:4] == ["phone", "secret", "alerts.phone", "warning+"]
        sent = quantdesk(tmp_path, "alerts", "test")
        assert sent.returncode == 0, sent.stderr
        assert sent.stdout.strip() == "phone (JSON): sending… sent"
        (request,) = server.requests
        assert request.path == "/phone-SECRETPATH42"
        assert request.json()["title"] == "quantdesk alerts test"
        server.script = Script(status=500, body=b"{}")
        failed = quantdesk(tmp_path, "alerts", "test", "phone")
        assert failed.returncode == 1
        assert "FAILED: " in failed.stdout and "500" in failed.stdout
        assert "SECRETPATH42" not in failed.stdout + failed.stderr
        unknown = quantdesk(tmp_path, "alerts", "test", "pager")
        assert unknown.returncode == 2 and "no alert channel 'pager' (phone)" in unknown.stderr
    finally:
        server.close()


def test_a_missing_channel_secret_stops_the_start_and_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    for args in (("--headless",), ("alerts", "test")):
        refused = quantdesk(tmp_path, *args)
        assert refused.returncode == 2
        assert "no secret alerts.phone in the keyring" in refused.stderr
        assert "quantdesk secrets set alerts.phone" in refused.stderr
        assert "Traceback" not in refused.stderr
    assert not (tmp_path / "data" / "journal.sqlite3").exists()  # nothing was started


def test_a_headless_halt_reaches_the_channel_and_the_outbox(tmp_path: Path) -> None:
    server = HTTPStandIn()
    proc = None
    try:
        url = setup(tmp_path, server)
        proc = _headless(tmp_path)
        halted = quantdesk(tmp_path, "halt", "--reason", "phone test")
        assert halted.returncode == 0, halted.stderr
        (request,) = server.wait(1, timeout=30)
        doc = request.json()
        assert doc["title"] == "Trading HALTED" and doc["type"] == "failure"
        assert doc["message"].startswith("phone test (from another shell)")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        listed = quantdesk(tmp_path, "alerts", "list")
        assert listed.returncode == 0
        (line,) = listed.stdout.splitlines()
        assert " phone " in line and " sent " in line and "Trading HALTED" in line
        failed = quantdesk(tmp_path, "alerts", "list", "--failed")
        assert failed.stdout.strip() == "no failed deliveries"
        every = b"".join(p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file())
        assert url.encode() not in every  # the URL is in the keyring only
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        server.close()


def _headless(tmp: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        command(tmp, "--headless"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(tmp),
        cwd=tmp,
        start_new_session=True,  # its own process group, as systemd gives it
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.startswith("quantdesk headless on"), first
    return proc


def test_a_halt_just_before_systemd_stops_the_group_is_not_lost(tmp_path: Path) -> None:
    import os

    server = HTTPStandIn()
    server.script = Script(status=500, body=b"{}")  # it does not take it now
    procs = []
    try:
        setup(tmp_path, server)
        procs.append(_headless(tmp_path))
        assert quantdesk(tmp_path, "halt", "--reason", "last words").returncode == 0
        os.killpg(procs[0].pid, signal.SIGTERM)  # systemctl stop: every process of the group
        assert procs[0].wait(timeout=30) == 0
        tried = len(server.requests)
        server.script = Script()
        procs.append(_headless(tmp_path))  # the next start delivers what was left
        delivered = server.wait(tried + 1, timeout=30)[tried]
        assert delivered.json()["title"] == "Trading HALTED"
        assert delivered.json()["message"].startswith("last words")
        os.killpg(procs[1].pid, signal.SIGTERM)
        assert procs[1].wait(timeout=30) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        server.close()
