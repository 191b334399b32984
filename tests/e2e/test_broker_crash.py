"""Crash recovery against a broker that outlives us: quantdesk (a child process) sends
orders to the scripted broker (its own process) and is SIGKILLed -- between journaling an
order and calling the gateway, between the call and journaling its id, or at a random
moment. While it is down the broker fills some orders. After each kill the account is
reconciled with the broker's statement: no order lost (every submitted intent is at the
broker or journaled as never sent), none duplicated (one broker order per intent), none
unknown, and the ledger rebuilt from the journal equals the broker's own account."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest

from services.bus import Bus
from services.records.journal import Journal
from services.records.reconcile import reconcile
from services.records.recovery import rebuild
from services.venues.scripted import ScriptedGateway
from tests.unit.venues.conftest import Broker, start_broker

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
CASH = 1e8

SESSION = r"""
import os, signal, sys, time
from pathlib import Path
from services.accounting.costs import CostConfig
from services.data.sync import DataConfig
from services.events import OrderIntent
from services.ops.scheduler import JobsConfig
from services.runtime import AccountConfig, build_services
from services.trading.risk import RiskConfig
from services.venues.scripted import ScriptedGateway
from services.venues.simulator import SimConfig

data, sock, run, kill = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
at = int(sys.argv[5])
svc = build_services(
    data, sim=SimConfig(), costs=CostConfig(), account=AccountConfig(initial_cash=1e8),
    paced=False, data=DataConfig(source="demo"),
    jobs=JobsConfig(daily_sync="", backup="", daily_summary=""),
    risk=RiskConfig(max_orders_per_second=0, max_orders_per_minute=0, duplicate_window_s=0,
                    max_active_orders=0, stale_quote_s=0, max_position_pct=0,
                    max_position_value=0, max_gross_exposure=0),
)
svc.start()
if svc.control.state.name == "HALTED":
    svc.control.rearm("ARM")
gateway = ScriptedGateway(svc.bus)
gateway.connect({"socket": sock})
while gateway.state.state != "CONNECTED":
    time.sleep(0.01)
svc.orders.gateway = gateway  # the broker is the venue
send, calls = gateway.send_order, [0]

def killing_send(req):
    calls[0] += 1
    if kill == "before_call" and calls[0] == at:  # journaled, the gateway never called
        os.kill(os.getpid(), signal.SIGKILL)
    vt_orderid = send(req)
    if kill == "after_call" and calls[0] == at:  # at the broker, its id not journaled
        time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGKILL)
    return vt_orderid

gateway.send_order = killing_send
symbols = ["600036.SSE", "000001.SZSE", "601318.SSE", "510300.SSE"]
while any(svc.market.get(s) is None for s in symbols):  # the opening quotes, dispatched
    svc.bus.wait_idle()
    time.sleep(0.01)
print("ready", flush=True)
for n in range(10_000):
    symbol = symbols[n % len(symbols)]
    tick = svc.market.get(symbol)
    price = round(tick.bid_price_1 * 0.99, 2)  # rests, inside the price band
    result = svc.orders.submit(OrderIntent(f"{run}-{n}", symbol, "buy", "limit", 100, price))
    time.sleep(0.01)
"""


def _reconciled(journal_path: Path, broker: Broker) -> dict[str, object]:
    bus = Bus()
    bus.start()
    gateway = ScriptedGateway(bus, "SCRIPTED")
    gateway.connect({"socket": str(broker.path)})
    while gateway.state.state != "CONNECTED":
        time.sleep(0.01)
    journal = Journal(journal_path)
    try:
        statement = gateway.statement()
        result = reconcile(journal, statement, CASH)
        again = reconcile(journal, gateway.statement(), CASH)
        rebuilt = rebuild(journal, CASH)
        submitted = [e["ref"] for e in journal.entries(kind="submit")]
        unsent = {e["ref"] for e in journal.entries(kind="unsent")}
    finally:
        journal.close()
        gateway.close()
        bus.stop()
    return {
        "result": result,
        "again": again,
        "rebuilt": rebuilt,
        "statement": statement,
        "submitted": submitted,
        "unsent": unsent,
    }


def test_sigkills_against_a_broker_lose_duplicate_and_leave_unknown_nothing() -> None:
    rng = random.Random(7)
    folder = Path(tempfile.mkdtemp(prefix="qdk", dir="/tmp"))
    broker = start_broker(folder, CASH)
    data = folder / "data"
    found: Counter[str] = Counter()
    try:
        for run in range(8):
            kill = ["before_call", "after_call", "random"][run % 3]
            at = rng.randint(2, 6)
            child = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    SESSION,
                    str(data),
                    str(broker.path),
                    f"r{run}",
                    kill,
                    str(at),
                ],
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=(folder / f"child-{run}.err").open("w"),  # shown if it fails
                text=True,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
            if kill == "random":
                time.sleep(rng.uniform(0.05, 0.3))
                child.send_signal(signal.SIGKILL)
            code = child.wait(timeout=60)
            assert code == -signal.SIGKILL, (folder / f"child-{run}.err").read_text()[-3000:]
            # While quantdesk is down the broker fills some of the working orders.
            state = broker.call("state")
            working = [o for o in state["orders"] if o["status"] in ("NOTTRADED", "PARTTRADED")]
            for order in rng.sample(working, k=min(3, len(working))):
                left = order["volume"] - order["traded"]
                broker.call("fill", orderid=order["orderid"], volume=rng.choice([left, 100]))
            out = _reconciled(data / "journal.sqlite3", broker)
            result, again, statement = out["result"], out["again"], out["statement"]
            assert result.differences == [], result.differences  # type: ignore[attr-defined]
            assert again.lines() == []  # type: ignore[attr-defined]
            # Not duplicated: one broker order per intent.
            refs = Counter(o.reference for o in statement.orders)  # type: ignore[attr-defined]
            assert max(refs.values(), default=1) == 1
            # Not lost, not unknown: every submitted intent is at the broker or unsent.
            at_broker = set(refs)
            for intent in out["submitted"]:  # type: ignore[attr-defined]
                assert (intent in at_broker) != (intent in out["unsent"]), intent  # type: ignore[operator]
            # The ledger equals the broker's account.
            book = out["rebuilt"].book  # type: ignore[attr-defined]
            assert abs(book.cash - statement.cash) < 0.01  # type: ignore[attr-defined]
            held = {s: p.qty for s, p in book.positions.items() if p.qty}
            assert held == statement.positions  # type: ignore[attr-defined]
            if kill == "before_call":
                assert result.unsent  # type: ignore[attr-defined]
            if kill == "after_call":
                assert result.adopted_orders  # type: ignore[attr-defined]
            found["unsent"] += len(result.unsent)  # type: ignore[attr-defined]
            found["adopted orders"] += len(result.adopted_orders)  # type: ignore[attr-defined]
            found["adopted fills"] += len(result.adopted_fills)  # type: ignore[attr-defined]
            found["orders"] = len(statement.orders)  # type: ignore[attr-defined]
        # Every case happened: fills while down, orders found at the broker, never sent.
        assert min(found.values()) > 0, found
    finally:
        broker.process.kill()
        shutil.rmtree(folder, ignore_errors=True)
