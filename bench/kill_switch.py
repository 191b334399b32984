"""Kill switch latency: ctrl+k pressed → every cancel issued, every strategy stopped.

500 working orders rest at the simulated broker, 200 strategy proposals wait
in the review queue, 4 strategies run, and 100,000 events sit in the bus queue
(the dispatcher is busy working through them) when ctrl+k is pressed in the
real App (headless, driven by Pilot). Two clocks: until the gateway has the
500th cancel request (``latency_ms``), and until the kill switch has also
stopped every strategy and rejected (and journaled) every proposal
(``all_done_ms``). Repeated ``--runs`` times (re-armed, orders and proposals
re-placed, queue refilled each time). Target p99 <= 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vnpy.event import Event
from vnpy.trader.object import CancelRequest

from bench.common import summary, write
from console.app import QuantdeskApp
from console.config import Config
from services.events import OrderIntent
from services.ops.watchlist import WatchlistStore
from services.runtime import AccountConfig, build_services
from services.trading.live import Proposal, StrategySpec
from services.trading.risk import RiskConfig
from services.venues.simulator import SimConfig

NO_LIMITS = RiskConfig(
    max_order_notional=0,
    max_position_value=0,
    max_position_pct=0,
    max_gross_exposure=0,
    max_orders_per_second=0,
    max_orders_per_minute=0,
    max_orders_per_day=0,
    max_cancels_per_symbol=0,
    max_active_orders=0,
    duplicate_window_s=0,
    price_band_pct=0,
    stale_quote_s=0,  # the market is paused while the runs go on
)

ORDERS = 500
INTENTS = 200
QUEUED = 100_000


async def run(runs: int) -> dict[str, object]:
    data = Path(tempfile.mkdtemp(prefix="qd-bench-kill-"))
    config = Config()
    services = build_services(
        data,
        sim=SimConfig(),
        costs=config.costs,
        account=AccountConfig(initial_cash=1e12),
        paced=False,
        risk=NO_LIMITS,  # 500 working orders on one symbol: the bench measures the kill path
        strategies=[
            StrategySpec(f"s{i}", "ma_cross", ("600519.SSE",), {"fast": 5, "slow": 20})
            for i in range(4)
        ],
    )
    app = QuantdeskApp(
        services,
        config,
        WatchlistStore(data / "w.json", config.watchlist.symbols, services.universe),
        bridge_thread=False,
    )
    last_cancel = [0.0]
    cancels = [0]
    real_cancel = services.gateway.cancel_order

    def timed_cancel(req: CancelRequest) -> None:
        real_cancel(req)
        cancels[0] += 1
        last_cancel[0] = time.perf_counter()

    services.gateway.cancel_order = timed_cancel  # type: ignore[method-assign]
    done_at = [0.0]
    real_kill = services.kill_switch

    def timed_kill(reason: str = "kill switch") -> list[str]:
        cancelled = real_kill(reason)
        done_at[0] = time.perf_counter()  # cancels issued, strategies stopped, intents rejected
        return cancelled

    services.kill_switch = timed_kill  # type: ignore[method-assign]
    services.bus.register("bench.gate", lambda e: e.data.wait(30))
    services.bus.register("bench.noise", lambda e: None)
    latencies, totals, depths = [], [], []
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()  # the store opens, then the market
        while not services.started:
            await pilot.pause(0.1)
        await asyncio.to_thread(services.bus.wait_idle)
        tick = services.market.get("600519.SSE")
        assert tick is not None
        for run_no in range(runs):
            for i in range(ORDERS):
                price = round(tick.limit_down + 0.01 * (i % 50), 2)
                result = services.orders.submit(
                    OrderIntent(f"k{run_no}-{i}", "600519.SSE", "buy", "limit", 100, price)
                )
                assert result.accepted, result.violations
            await asyncio.to_thread(services.bus.wait_idle, 60)
            assert len(services.orders.working_ids()) == ORDERS
            for i in range(INTENTS):
                intent = OrderIntent(f"q{run_no}-{i}", "600519.SSE", "buy", "limit", 100, price)
                services.review.restore(Proposal(intent, "s0", "bench", price, datetime.now()))
            services.live.running = set(services.live.specs)
            gate = threading.Event()
            services.bus.put(Event("bench.gate", gate))  # hold the dispatcher while filling
            for _ in range(QUEUED):
                services.bus.put(Event("bench.noise"))
            depths.append(services.bus.depth)
            cancels[0] = 0
            gate.set()  # the dispatcher now churns through 100k events during the press
            start = time.perf_counter()
            await pilot.press("ctrl+k")
            assert cancels[0] == ORDERS, cancels[0]
            assert services.review.items() == [] and services.live.running == set()
            latencies.append((last_cancel[0] - start) * 1000)
            totals.append((done_at[0] - start) * 1000)
            await asyncio.to_thread(services.bus.wait_idle, 60)
            services.control.rearm("ARM")
        await pilot.pause()
    return {
        "latency_ms": summary(latencies),
        "all_done_ms": summary(totals),
        "bus_depth_at_press": summary(depths),
    }


def main() -> None:
    logging.disable(logging.CRITICAL)  # the console logs to a file; the bench has none
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    figures = asyncio.run(run(args.runs))
    write(
        "kill_switch",
        {
            "working_orders": ORDERS,
            "pending_intents": INTENTS,
            "strategies": 4,
            "queued_events": QUEUED,
            "runs": args.runs,
            **figures,
            "target_p99_ms": 100,
        },
    )


if __name__ == "__main__":
    main()
