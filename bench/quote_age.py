"""Quote age on screen: exchange time of the quote -> painted, in replay at real speed.

A recording of 50 symbols polled every 3 s (Sina's wire format) is replayed at real
speed through the real services and App (headless driver: layout and rendering, no
terminal). Ten times a second, for every watchlist row, the age of the quote the
screen shows is taken: the replay's exchange time now (the poll being replayed plus the
real time since it was released) minus the exchange time of the shown quote. A quote
is replaced by the next poll, so ages run from the pipeline's latency up to one poll
interval plus that latency.

Target: p99 <= interval + 0.5 s (3.5 s).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import logging
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import summary, write
from bench.feed_poll import session_polls
from console.app import QuantdeskApp
from console.config import Config, WatchlistSection
from panes.watchlist import Watchlist
from services.feed.clock import ReplayClock
from services.instruments import instrument_for
from services.ops.watchlist import WatchlistStore
from services.runtime import AccountConfig, build_services
from services.venues.simulator import SimConfig

SYMBOLS = [f"{600000 + i}.SSE" for i in range(50)]
INTERVAL_S = 3.0


async def run(seconds: float) -> dict[str, object]:
    data = Path(tempfile.mkdtemp(prefix="qd-bench-age-"))
    insts = [i for i in (instrument_for(s) for s in SYMBOLS) if i is not None]
    rec = data / "session.jsonl.gz"
    with gzip.open(rec, "wt", encoding="utf-8") as f:
        for poll in session_polls(insts, int(seconds / INTERVAL_S) + 10, INTERVAL_S):
            f.write(json.dumps(asdict(poll), ensure_ascii=False) + "\n")
    config = Config(watchlist=WatchlistSection(symbols=tuple(SYMBOLS)), strategies=())
    services = build_services(
        data,
        sim=SimConfig(),
        costs=config.costs,
        account=AccountConfig(),
        instruments=tuple(insts),
        mode="replay",
        replay=rec,
        speed=1.0,
        strategies=[],
    )
    clock = services.gateway.clock
    assert isinstance(clock, ReplayClock)
    store = WatchlistStore(data / "w.json", tuple(SYMBOLS), services.universe)
    app = QuantdeskApp(services, config, store)
    ages: list[float] = []
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        while not services.started:
            await pilot.pause(0.1)
        await pilot.pause(2 * INTERVAL_S)  # warm-up: the first polls painted
        watchlist = app.main.query_one(Watchlist)
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            await pilot.pause(0.1)
            at = clock._at
            if at is None:
                continue
            now = at + timedelta(seconds=time.perf_counter() - clock._real)
            for tick in list(watchlist.ticks.values()):
                ages.append((now - tick.datetime).total_seconds())
    return {
        "symbols": len(SYMBOLS),
        "poll_interval_s": INTERVAL_S,
        "seconds": seconds,
        "age_on_screen_s": summary(ages),
        "target_p99_s": INTERVAL_S + 0.5,
    }


def main() -> None:
    logging.disable(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    write("quote_age", asyncio.run(run(args.seconds)))


if __name__ == "__main__":
    main()
