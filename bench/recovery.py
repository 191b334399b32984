"""Recovery: start to a ready console with a journal of 100,000 events.

The journal is filled with a realistic session history -- strategy proposals
and approvals, intents with verdicts, submissions, acknowledgements, fills and
day rolls (100,000 entries, ~14,000 orders) -- then the ``quantdesk`` command
is started in a 160x48 pty as in ``startup.py``: the time runs until the
header is painted, which is after the ledger, open orders, pending proposals
and trading state have been rebuilt from the journal. Also the rebuild alone,
in process. Target: <= 3 s.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import summary, write
from bench.startup import one_start
from services.records.journal import Journal
from services.records.recovery import rebuild

EVENTS = 100_000


def fill_journal(path: Path, events: int) -> int:
    rows: list[tuple[str, str, str, str]] = []
    n = trade = 0
    day = 0
    while len(rows) < events:
        n += 1
        side = "buy" if n % 2 else "sell"
        direction = "LONG" if side == "buy" else "SHORT"
        intent_id, vt_orderid = f"demo-ma-{n}", f"SIM.{n}"
        price = 1400.0 + (n % 50)
        intent = {
            "intent_id": intent_id,
            "vt_symbol": "600519.SSE",
            "side": side,
            "kind": "limit",
            "qty": 100,
            "price": price,
            "source": "strategy:demo-ma",
        }
        at = f"2026-11-{1 + day % 28:02d}T10:00:00"
        rows.append(
            (
                at,
                "proposed",
                intent_id,
                json.dumps(
                    {
                        "intent": intent,
                        "strategy": "demo-ma",
                        "reason": "MA(5) crossed",
                        "ref_price": price,
                        "bar_time": at,
                        "auto": False,
                    }
                ),
            )
        )
        rows.append(
            (at, "approved", intent_id, json.dumps({"how": "approved", "sent_as": intent_id}))
        )
        rows.append(
            (
                at,
                "intent",
                intent_id,
                json.dumps({"intent": intent, "verdict": "accepted", "violations": []}),
            )
        )
        rows.append(
            (
                at,
                "submit",
                intent_id,
                json.dumps({"request": {"symbol": "600519", "volume": 100, "price": price}}),
            )
        )
        rows.append((at, "sent", vt_orderid, json.dumps({"intent_id": intent_id})))
        order = {
            "vt_symbol": "600519.SSE",
            "direction": direction,
            "type": "LIMIT",
            "price": price,
            "volume": 100,
            "reason": None,
            "at": at,
        }
        rows.append(
            (at, "order", vt_orderid, json.dumps({**order, "traded": 0, "status": "NOTTRADED"}))
        )
        rows.append(
            (at, "order", vt_orderid, json.dumps({**order, "traded": 100, "status": "ALLTRADED"}))
        )
        trade += 1
        rows.append(
            (
                at,
                "fill",
                vt_orderid,
                json.dumps(
                    {
                        "vt_tradeid": f"SIM.{trade}",
                        "vt_symbol": "600519.SSE",
                        "direction": direction,
                        "price": price,
                        "volume": 100,
                        "fee": 5.0,
                        "at": at,
                    }
                ),
            )
        )
        if side == "buy":  # T+1: the sell comes the next day
            day += 1
            rows.append(
                (
                    at,
                    "day",
                    f"2026-11-{1 + day % 28:02d}",
                    json.dumps({"closes": {"600519.SSE": price}}),
                )
            )
    Journal(path).close()  # the schema
    db = sqlite3.connect(path)
    with db:
        db.executemany(
            "INSERT INTO entries(at, kind, ref, payload) VALUES (?, ?, ?, ?)", rows[:events]
        )
    db.close()
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--events", type=int, default=EVENTS)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="qd-bench-recovery-"))
    one_start(data)  # the store, the demo history, the file cache
    (data / "journal.sqlite3").unlink()
    for extra in ("journal.sqlite3-wal", "journal.sqlite3-shm"):
        (data / extra).unlink(missing_ok=True)
    orders = fill_journal(data / "journal.sqlite3", args.events)
    journal = Journal(data / "journal.sqlite3")
    t0 = time.perf_counter()
    rebuilt = rebuild(journal, 1_000_000.0)
    rebuild_s = time.perf_counter() - t0
    journal.close()
    assert rebuilt.problems == [], rebuilt.problems[:3]
    starts = [one_start(data) for _ in range(args.runs)]
    write(
        "recovery",
        {
            "journal_events": args.events,
            "orders": orders,
            "fills": rebuilt.fills,
            "rebuild_in_process_s": round(rebuild_s, 3),
            "start_to_ready_s": summary(starts),
            "target_s": 3.0,
        },
    )


if __name__ == "__main__":
    main()
