"""Reconciliation of a busy account: 200 positions, 1,000 orders, 5,000 trades.

The account's journal holds the day (opening balance, 1,000 intents each
submitted and sent, their final states, 5,000 fills); the scripted broker, in
its own process, holds the same day, with the last 50 trades missing from the
journal (they happened while quantdesk was down) so that the run adopts them.
Timed, best of ``--repeat``: the broker's statement through the gateway (a
query over the socket, 6,000 orders and trades decoded), and the
reconciliation itself (reading the journal, matching, adopting, rebuilding the
ledger, comparing). Target: <= 1 s for both together.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vnpy.trader.constant import Direction, Exchange, OrderType
from vnpy.trader.object import OrderRequest

from bench.common import write
from services.bus import Bus
from services.records.journal import Journal
from services.records.reconcile import reconcile
from services.venues.scripted import ScriptedGateway
from tests.unit.venues.conftest import start_broker

CASH = 100_000_000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--positions", type=int, default=200)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--trades", type=int, default=5000)
    parser.add_argument("--missed", type=int, default=50, help="trades the journal lacks")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="qdr", dir="/tmp"))
    broker = start_broker(folder, CASH)
    bus = Bus()
    bus.start()
    gateway = ScriptedGateway(bus, "BENCH")
    try:
        gateway.connect({"socket": str(broker.path)})
        while gateway.state.state != "CONNECTED":
            time.sleep(0.01)
        t0 = time.perf_counter()
        fills_per_order = args.trades // args.orders
        sent = []
        for n in range(args.orders):
            code = f"{600000 + n % args.positions}"
            ref = f"intent-{n}"
            vt_orderid = gateway.send_order(
                OrderRequest(
                    code,
                    Exchange.SSE,
                    Direction.LONG,
                    OrderType.LIMIT,
                    100 * fills_per_order,
                    10.0,
                    reference=ref,
                )
            )
            sent.append((ref, vt_orderid, code))
        for _ref, vt_orderid, _ in sent:
            for _ in range(fills_per_order):
                broker.call("fill", orderid=vt_orderid.split(".", 1)[1], volume=100)
        print(f"broker loaded in {time.perf_counter() - t0:.1f}s")
        statement = gateway.statement(timeout=30)
        assert len(statement.trades) == args.trades and len(statement.positions) == args.positions
        # The journal: everything but the last ``missed`` trades.
        journal = Journal(folder / "journal.sqlite3")
        journal.record("opening", "broker", {"cash": CASH, "positions": {}, "trades": {}})
        rows = []
        for ref, vt_orderid, code in sent:
            intent = {"intent_id": ref, "vt_symbol": f"{code}.SSE", "side": "buy"}
            rows.append(("intent", ref, {"intent": {**intent, "qty": 100 * fills_per_order}}))
            rows.append(("submit", ref, {"request": {"reference": ref}}))
            rows.append(("sent", vt_orderid, {"intent_id": ref}))
        kept = statement.trades[: args.trades - args.missed]
        for t in kept:
            payload = {
                "vt_tradeid": t.vt_tradeid,
                "vt_symbol": t.vt_symbol,
                "direction": "LONG",
                "price": t.price,
                "volume": t.qty,
                "fee": t.fee,
            }
            rows.append(("fill", t.vt_orderid, payload))
        done = {t.vt_orderid for t in kept}
        for o in statement.orders:
            if o.vt_orderid in done:
                rows.append(("order", o.vt_orderid, {"status": o.status, "traded": o.traded}))
        journal.record_many(rows)
        journal.close()
        statement_s, reconcile_s, adopted = [], [], 0
        for _ in range(args.repeat):
            copy = folder / "run.sqlite3"
            shutil.copy(folder / "journal.sqlite3", copy)
            run = Journal(copy)
            t0 = time.perf_counter()
            statement = gateway.statement(timeout=30)
            t1 = time.perf_counter()
            result = reconcile(run, statement, CASH)
            t2 = time.perf_counter()
            run.close()
            copy.unlink()
            assert not result.halt, result.differences
            adopted = len(result.adopted_fills)
            statement_s.append(t1 - t0)
            reconcile_s.append(t2 - t1)
    finally:
        gateway.close()
        bus.stop()
        broker.process.kill()
        shutil.rmtree(folder, ignore_errors=True)
    best_statement, best_reconcile = min(statement_s), min(reconcile_s)
    print(
        f"statement {best_statement:.3f}s, reconcile {best_reconcile:.3f}s "
        f"(adopted {adopted} fills), total {best_statement + best_reconcile:.3f}s"
    )
    write(
        "reconcile",
        {
            "positions": args.positions,
            "orders": args.orders,
            "trades": args.trades,
            "adopted_fills": adopted,
            "repeats": args.repeat,
            "statement_s": round(best_statement, 4),
            "reconcile_s": round(best_reconcile, 4),
            "total_s": round(best_statement + best_reconcile, 4),
            "target_s": 1.0,
        },
    )


if __name__ == "__main__":
    main()
