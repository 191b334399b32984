"""Quote-to-screen: 500 symbols at 2,000 ticks/s for 30 s through the real App.

The simulated gateway (paced thread) produces the ticks; the bus, the bridge
(coalescing at refresh_hz) and the App (headless driver: full layout and
rendering, no terminal writes) carry them to a 500-row watchlist. Latency is
tick creation (``TickData.localtime``, wall clock) → the App having applied
it to the widgets in the frame handler (the repaint follows on the next
refresh). CPU: the UI thread's own CPU time, and the whole process's.
Targets: p99 <= 250 ms, UI CPU <= 60 % of one core, bus depth bounded.
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

from vnpy.trader.object import TickData

from bench.common import summary, write
from console.app import QuantdeskApp
from console.config import Config, WatchlistSection
from services.instruments import synthetic_universe
from services.ops.watchlist import WatchlistStore
from services.runtime import AccountConfig, build_services
from services.venues.simulator import SimConfig


async def run(symbols: int, rate: float, seconds: float) -> dict[str, object]:
    data = Path(tempfile.mkdtemp(prefix="qd-bench-q2s-"))
    universe = synthetic_universe(symbols)
    config = Config(watchlist=WatchlistSection(symbols=()))
    services = build_services(
        data,
        sim=SimConfig(ticks_per_second=rate),
        costs=config.costs,
        account=AccountConfig(),
        instruments=universe,
        paced=True,
    )
    latencies: list[float] = []
    frames = [0]
    ticks_applied = [0]

    def on_frame(ticks: dict[str, TickData]) -> None:
        now = datetime.now()
        frames[0] += 1
        ticks_applied[0] += len(ticks)
        for tick in ticks.values():
            if tick.localtime is not None:
                latencies.append((now - tick.localtime).total_seconds() * 1000)

    store = WatchlistStore(data / "w.json", tuple(i.vt_symbol for i in universe), services.universe)
    app = QuantdeskApp(services, config, store, on_frame=on_frame)
    depths: list[int] = []
    stop = threading.Event()

    def sample_depth() -> None:
        while not stop.wait(0.05):
            depths.append(services.bus.depth)

    async with app.run_test(size=(160, 48)) as pilot:
        # The market opens once the store is ready (a first start writes demo history).
        await app.workers.wait_for_complete()
        while not services.started:
            await pilot.pause(0.1)
        await pilot.pause(2.0)  # warm-up: first frames
        latencies.clear()
        steps0 = services.gateway.market.steps
        sampler = threading.Thread(target=sample_depth, daemon=True)
        sampler.start()
        ui0, cpu0, wall0 = time.thread_time(), time.process_time(), time.perf_counter()
        await pilot.pause(seconds)
        ui1, cpu1, wall1 = time.thread_time(), time.process_time(), time.perf_counter()
        stop.set()
        produced = services.gateway.market.steps - steps0
    wall = wall1 - wall0
    return {
        "symbols": symbols,
        "target_ticks_per_s": rate,
        "produced_ticks_per_s": round(produced / wall),
        "seconds": round(wall, 1),
        "latency_ms": summary(latencies),
        "frames_per_s": round(frames[0] / wall, 1),
        "ui_thread_cpu_pct_of_one_core": round(100 * (ui1 - ui0) / wall, 1),
        "process_cpu_pct_of_one_core": round(100 * (cpu1 - cpu0) / wall, 1),
        "bus_depth": summary([float(d) for d in depths]),
        "frames_skipped_ui_busy": app.bridge.skipped,
        "targets": {"p99_ms": 250, "ui_cpu_pct": 60},
    }


def main() -> None:
    logging.disable(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    write("quote_to_screen", asyncio.run(run(args.symbols, args.rate, args.seconds)))


if __name__ == "__main__":
    main()
