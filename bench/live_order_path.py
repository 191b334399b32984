"""Intent -> broker gateway call in live mode, with the write-ahead journal at
``synchronous=FULL`` (live mode's) against ``NORMAL`` (the paper modes'), same run.

The real path: ``OrderService.submit`` of a limit buy -- the order checks and every
risk rule, the intent and its submission journaled (two commits), then the
gateway's ``send_order`` -- over live mode's services: the account's journal, the
scripted broker in its own process behind its vnpy gateway, quotes from the
simulated market. Timed from the call of ``submit`` to the moment the gateway's
``send_order`` is entered (what a crash in between would leave to reconciliation),
for ``--orders`` intents per round, rounds alternating NORMAL and FULL. Each intent is
cancelled, and its cancel confirmed by the broker, before the next (untimed). The
journal's file is on this machine's disk: FULL waits for each commit's fsync.
Target (the issue's): say what FULL costs against NORMAL.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vnpy.trader.object import OrderRequest

from bench.common import P99_MIN_SAMPLES, risk_off, summary, write
from services.events import OrderIntent
from services.runtime import Services
from services.venues.accounts import AccountSpec
from tests.unit.venues.conftest import live_services, start_broker

OFF = risk_off()


def _services(data: Path, socket: Path) -> Services:
    spec = AccountSpec(
        "bench", "services.venues.scripted:ScriptedGateway", {"socket": str(socket)}, quotes="sim"
    )
    services = live_services(data, spec, risk=OFF)
    services.start()
    deadline = time.monotonic() + 10
    while services.orders.blocked or services.watch is None or services.watch.last is None:
        assert time.monotonic() < deadline, "the account did not reconcile"
        time.sleep(0.01)
    return services


def _round(services: Services, durable: bool, n: int, tag: str) -> list[float]:
    mode = "FULL" if durable else "NORMAL"
    services.journal._db.execute(f"PRAGMA synchronous={mode}")
    entered: list[float] = []
    send = services.orders.gateway.send_order

    def timed(req: OrderRequest) -> str:
        entered.append(time.perf_counter())
        return str(send(req))

    services.orders.gateway.send_order = timed  # type: ignore[method-assign]
    tick = services.market.get("600519.SSE")
    assert tick is not None
    price = round(tick.bid_price_1 * 0.995, 2)
    out = []
    try:
        for i in range(n):
            intent = OrderIntent(f"{tag}-{i}", "600519.SSE", "buy", "limit", 100, price)
            t0 = time.perf_counter()
            result = services.orders.submit(intent)
            assert result.accepted, result.violations
            out.append((entered[-1] - t0) * 1000)
            services.orders.cancel(str(result.vt_orderid))
            # Untimed: the broker's cancel comes back before the next intent, so every
            # intent sees the same account (one working order at most), as at a real pace.
            while services.orders.working_ids():
                time.sleep(0.0002)
    finally:
        services.orders.gateway.send_order = send  # type: ignore[method-assign]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=300, help="intents per round")
    parser.add_argument("--rounds", type=int, default=6, help="alternating NORMAL, FULL")
    args = parser.parse_args()
    if args.orders * (args.rounds // 2) < P99_MIN_SAMPLES:
        parser.error(f"a p99 needs {P99_MIN_SAMPLES} intents per journal mode: raise --orders")
    folder = Path(tempfile.mkdtemp(prefix="qdl", dir="/tmp"))
    broker = start_broker(folder, 1e12)
    services = _services(folder / "data", broker.path)
    samples: dict[str, list[float]] = {"NORMAL": [], "FULL": []}
    try:
        _round(services, False, 50, "warm")  # warm-up, not counted
        for r in range(args.rounds):
            durable = r % 2 == 1
            samples["FULL" if durable else "NORMAL"] += _round(
                services, durable, args.orders, f"r{r}"
            )
    finally:
        services.stop()
        broker.process.kill()
        shutil.rmtree(folder, ignore_errors=True)
    normal, full = summary(samples["NORMAL"]), summary(samples["FULL"])
    for name, s in (("NORMAL", normal), ("FULL", full)):
        print(f"{name:6}: p50 {s['p50']:.3f} ms, p99 {s['p99']:.3f} ms, max {s['max']:.3f} ms")
    ratio = full["p99"] / normal["p99"]
    print(f"FULL / NORMAL at p99: {ratio:.2f}x")
    write(
        "live_order_path",
        {
            "intents_per_mode": len(samples["NORMAL"]),
            "rounds": args.rounds,
            "normal_ms": normal,
            "full_ms": full,
            "p99_full_over_normal": round(ratio, 2),
            "p50_full_minus_normal_ms": round(full["p50"] - normal["p50"], 3),
        },
    )


if __name__ == "__main__":
    main()
