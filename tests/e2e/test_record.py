"""``quantdesk record`` polls the watchlist's quotes from the configured source (a local
stand-in of Sina here) and writes every poll to the recordings folder until SIGTERM;
``--mode replay`` plays that file back."""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.feed.source import read_recording
from tests.unit.feed.conftest import quote
from tests.unit.feed.sina_server import SinaServer

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def test_record_writes_every_poll_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with SinaServer() as server:
        server.quotes = {"600519.SSE": quote(), "000001.SZSE": quote("000001.SZSE")}
        config = tmp_path / "config.toml"
        config.write_text(
            f'[feed]\nurl = "{server.url}"\n\n[watchlist]\n'
            'symbols = ["600519.SSE", "000001.SZSE"]\n'
        )
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "console.cli",
                "--data-dir",
                str(data),
                "--config",
                str(config),
                "record",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
            cwd=tmp_path,
        )
        deadline = time.monotonic() + 60
        while not server.requests and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    [path] = list((data / "recordings").glob("*.jsonl.gz"))
    polls = list(read_recording(path))
    assert polls and polls[0].status == 200 and "hq_str_sh600519" in polls[0].body
    assert set(polls[0].symbols) == {"600519.SSE", "000001.SZSE"}
    first = json.loads(gzip.decompress(path.read_bytes()).splitlines()[0])
    assert set(first) == {"at", "symbols", "status", "body", "error", "elapsed_ms"}
    log = (data / "logs" / "quantdesk.log").read_text()
    assert "recording every poll to" in log and "stopped cleanly" in log
