"""One poll of 800 symbols: parse the source's answer and publish it (issue 11).

The body is 800 quote lines in Sina's exact wire format (GBK-decoded, as the
gateway sees it). Measured: the CPU time of ``QuoteGateway.handle`` on the
polling thread -- parse, paper-broker matching, TickData creation and putting
800 ticks on the bus -- and, separately, the bus's CPU to dispatch them to the
paper-mode services (quote cache, live runner, minute-bar recorder). Warm-up
polls first; each repeat is a new snapshot (every price moved).

Target: parse and publish <= 50 ms of CPU per poll.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import summary, write
from services.accounting.costs import CostConfig
from services.feed import sina
from services.feed.source import RawPoll
from services.instruments import Instrument, synthetic_universe
from services.runtime import AccountConfig, build_services
from services.venues.quote import Quote
from services.venues.simulator import SimConfig


def session_polls(insts: list[Instrument], polls: int, every_s: float = 3.0) -> list[RawPoll]:
    """``polls`` snapshots of ``insts``, ``every_s`` apart from 10:00 of a trading day,
    every price moving, in Sina's wire format."""
    symbols = [i.vt_symbol for i in insts]
    at = datetime(2026, 11, 24, 10, 0)
    out = []
    for k in range(polls):
        lines = []
        for i, inst in enumerate(insts):
            ref = inst.ref_price or 10.0 + i
            last = inst.round_price(ref * (1 + 0.001 * ((k + i) % 7 - 3)))
            down, up = inst.limits(ref)
            q = Quote(
                inst.vt_symbol,
                at,
                last,
                ref,
                ref,
                up,
                down,
                inst.round_price(last - inst.tick),
                inst.round_price(last + inst.tick),
                500 + i,
                700 + k,
                10_000 * (k + 1),
                1e6 * (k + 1),
                up,
                down,
                name=inst.name,
            )
            lines.append(sina.format_line(q))
        out.append(RawPoll(at.isoformat(), tuple(symbols), 200, "\n".join(lines) + "\n"))
        at += timedelta(seconds=every_s)
    return out


def run(n_symbols: int, repeats: int, warmup: int) -> dict[str, object]:
    data = Path(tempfile.mkdtemp(prefix="qd-bench-feed-"))
    services = build_services(
        data,
        sim=SimConfig(),
        costs=CostConfig(),
        account=AccountConfig(),
        instruments=synthetic_universe(n_symbols),
        mode="paper",
        strategies=[],
    )
    gateway = services.gateway
    polls = session_polls(list(synthetic_universe(n_symbols)), warmup + repeats)
    services.bus.start()
    handle_ms: list[float] = []
    total_ms: list[float] = []
    for k, poll in enumerate(polls):
        gateway.clock.now = lambda at=poll.time: at  # type: ignore[method-assign]
        p0, t0 = time.process_time(), time.thread_time()
        ok = gateway.handle(poll)  # type: ignore[union-attr]
        t1 = time.thread_time()
        services.bus.wait_idle(30)
        p1 = time.process_time()
        assert ok, gateway.status  # type: ignore[union-attr]
        if k >= warmup:
            handle_ms.append((t1 - t0) * 1000)
            total_ms.append((p1 - p0) * 1000)
    body_kb = len(polls[0].body.encode("gbk")) / 1024
    services.stop()
    return {
        "symbols": n_symbols,
        "repeats": repeats,
        "warmup": warmup,
        "body_kb": round(body_kb, 1),
        "parse_and_publish_cpu_ms": summary(handle_ms),
        "with_bus_dispatch_cpu_ms": summary(total_ms),
        "target_ms": 50,
    }


def main() -> None:
    logging.disable(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", type=int, default=800)
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    write("feed_poll", run(args.symbols, args.repeats, args.warmup))


if __name__ == "__main__":
    main()
