"""Bus throughput: our wrapped Bus against raw vnpy EventEngine, in the same run.

Each round puts N events from one producer thread and times until the one
handler has seen them all; rounds alternate raw / wrapped to share warm-up
and machine noise. Target: wrapped >= 0.9x raw.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vnpy.event import Event, EventEngine

from bench.common import write
from services.bus import Bus


def one_round(engine_cls: type[EventEngine], n: int) -> float:
    engine = engine_cls()
    done = threading.Event()
    count = 0

    def handler(event: Event) -> None:
        nonlocal count
        count += 1
        if count == n:
            done.set()

    engine.register("bench", handler)
    engine.start()
    start = time.perf_counter()
    for i in range(n):
        engine.put(Event("bench", i))
    done.wait(120)
    elapsed = time.perf_counter() - start
    engine.stop()
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    raw, wrapped = [], []
    for _ in range(args.rounds):
        raw.append(one_round(EventEngine, args.events))
        wrapped.append(one_round(Bus, args.events))
    raw_med, wrapped_med = statistics.median(raw), statistics.median(wrapped)
    write(
        "bus_throughput",
        {
            "events_per_round": args.events,
            "rounds": args.rounds,
            "raw_vnpy_events_per_s": round(raw_med),
            "wrapped_bus_events_per_s": round(wrapped_med),
            "ratio_wrapped_to_raw": round(wrapped_med / raw_med, 3),
            "target_ratio": 0.9,
            "raw_rounds": [round(x) for x in raw],
            "wrapped_rounds": [round(x) for x in wrapped],
        },
    )


if __name__ == "__main__":
    main()
