"""``quantdesk halt`` gets through whatever the running instance is doing: stopped
(SIGSTOP) it obeys the HALT written to its journal before its next send, and another
user flooding its control socket costs the owner's halt nothing."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.test_data_safety import NOBODY, as_root, headless, quantdesk
from tests.e2e.test_ops import env

pytestmark = pytest.mark.e2e

FLOW = r"""
import itertools, sys, time
from pathlib import Path
from services.accounting.costs import CostConfig
from services.data.sync import DataConfig
from services.events import OrderIntent
from services.ops.scheduler import JobsConfig
from services.runtime import AccountConfig, build_services
from services.trading.risk import RiskConfig
from services.venues.simulator import SimConfig

svc = build_services(
    Path(sys.argv[1]), sim=SimConfig(ticks_per_second=200), costs=CostConfig(),
    account=AccountConfig(initial_cash=1e8), paced=False, data=DataConfig(source="demo"),
    jobs=JobsConfig(daily_sync="", backup="", daily_summary=""),
    risk=RiskConfig(max_orders_per_second=0, max_orders_per_minute=0, duplicate_window_s=0,
                    max_active_orders=0, stale_quote_s=0, max_position_pct=0,
                    max_position_value=0, max_gross_exposure=0, max_daily_loss=0,
                    max_drawdown_pct=0),
)
svc.start()
svc.gateway.advance(50)
print("ready", flush=True)
for n in itertools.count():
    svc.gateway.advance(1)
    tick = svc.market.get("000001.SZSE")
    if tick is not None:  # a resting buy every few ms: each one a journaled submit
        price = round(tick.bid_price_1 * 0.99 - (n % 50) / 100, 2)
        svc.orders.submit(OrderIntent(f"f{n}", "000001.SZSE", "buy", "limit", 100, price))
    time.sleep(0.002)
"""


def journal_rows(data: Path) -> list[tuple[int, str, str, str]]:
    db = sqlite3.connect(f"file:{data / 'journal.sqlite3'}?mode=ro", uri=True)
    try:
        return db.execute("SELECT seq, kind, ref, payload FROM entries ORDER BY seq").fetchall()
    finally:
        db.close()


def test_a_halt_written_while_the_instance_was_stopped_is_obeyed_before_its_next_send(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    flow = subprocess.Popen(
        [sys.executable, "-c", FLOW, str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(tmp_path),
        cwd=tmp_path,
    )
    try:
        assert flow.stdout is not None and flow.stdout.readline().strip() == "ready"
        time.sleep(0.5)  # orders flowing and resting
        flow.send_signal(signal.SIGSTOP)
        halted = quantdesk(data, "halt", "--reason", "stopped process")
        assert halted.returncode == 1, halted.stdout + halted.stderr
        assert "did not answer" in halted.stderr and "set to HALTED" in halted.stderr
        (halt_seq,) = [
            seq
            for seq, kind, ref, payload in journal_rows(data)
            if kind == "state" and ref == "HALTED" and "stopped process" in payload
        ]
        flow.send_signal(signal.SIGCONT)
        time.sleep(2.0)  # the flow keeps trying to send; the watch runs every 0.5 s
        rows = journal_rows(data)
        assert flow.poll() is None, flow.stderr.read() if flow.stderr else ""
    finally:
        flow.kill()
        flow.wait(timeout=10)
    later = [(seq, kind) for seq, kind, _, _ in rows if seq > halt_seq]
    assert later, "the flow went on trying"
    assert [s for s, kind in later if kind == "submit"] == []  # nothing sent after the HALT
    intents = [json.loads(p) for s, k, _, p in rows if s > halt_seq and k == "intent"]
    assert intents and {i["verdict"] for i in intents} == {"rejected"}
    state = json.loads(quantdesk(data, "state", "--json").stdout)
    assert state["state"] == "HALTED" and state["open_orders"] == []


@as_root
def test_a_flood_from_another_user_costs_the_owners_halt_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    instance = headless(data)
    flood = (
        "import os, socket\n"
        "from pathlib import Path\n"
        "from services.ops.control_server import address\n"
        f"where = address(Path({str(data)!r}))\n"
        f"os.setgroups([]); os.setgid({NOBODY}); os.setuid({NOBODY})\n"
        "while True:\n"
        "    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
        "    s.setblocking(False)\n"
        "    try: s.connect(where)\n"
        "    except OSError: pass\n"
        "    s.close()\n"
    )
    flooders = [
        subprocess.Popen(
            [sys.executable, "-c", flood], env=env(tmp_path), cwd="/", stderr=subprocess.PIPE
        )
        for _ in range(4)
    ]
    try:
        time.sleep(1.0)
        assert all(f.poll() is None for f in flooders)  # flooding
        halted = quantdesk(data, "halt", "--reason", "under a flood")
        assert halted.returncode == 0, halted.stdout + halted.stderr
        assert "halted the running quantdesk" in halted.stdout
        assert "Traceback" not in halted.stderr
    finally:
        for f in flooders:
            f.kill()
            f.wait(timeout=10)
        instance.terminate()
        instance.wait(timeout=15)
    log = (data / "logs" / "quantdesk.log").read_text(encoding="utf-8")
    refusals = log.count(f"control connection from uid {NOBODY} refused")
    assert 1 <= refusals <= 2  # once a minute, not once per connection
    assert os.path.exists(data / "journal.sqlite3")
