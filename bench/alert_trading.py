"""Trading beside failing alert channels: what channels that answer 500, hang past their
timeout or refuse the connection cost the order path, with every fill alerting.

Each arm is the demo's order path for real -- checks, risk rules, the journal, the
paper broker on the simulated market -- with a steady flow: a marketable buy every
``interval`` seconds (each fills at once, each fill an ``info`` alert), the market
moving 100 quotes a second. The peer runs the same flow with no alert service. Then
200 resting orders are placed and the kill switch is timed: the call (HALT, every
cancel sent) and until the broker has cancelled them all.

Reported per arm: fills, fills per second, the longest gap between two fills, the
submit latency (p50, p99, max) and the kill switch's times; and the ratios of the
alerting arm to the peer. Part of ``alert_burst.py``; runs on its own too.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import percentile, risk_off, write
from services.accounting.costs import CostConfig
from services.alerts.channels import Channel
from services.alerts.config import AlertsConfig, ChannelConfig
from services.alerts.wiring import Alerting
from services.data.sync import DataConfig
from services.events import EVENT_TRADE, OrderIntent
from services.ops.scheduler import JobsConfig
from services.runtime import AccountConfig, Services, build_services
from services.venues.simulator import SimConfig

SYMBOLS = ("600519.SSE", "000001.SZSE", "601318.SSE", "600036.SSE", "510300.SSE")


def open_services(data_dir: Path, ports: list[int] | None) -> Services:
    """The demo's services (relaxed limits, paused market), with alert channels to
    ``ports`` when given: every fill alerts (min_severity info)."""
    alerting = None
    if ports:
        channels = tuple(
            Channel(
                ChannelConfig(f"c{port}", f"alerts.c{port}"),
                f"json://127.0.0.1:{port}/x",
                timeout_s=10.0,
            )
            for port in ports
        )
        alerting = Alerting(AlertsConfig(channels=tuple(c.config for c in channels)), channels)
    return build_services(
        data_dir,
        sim=SimConfig(),
        costs=CostConfig(),
        account=AccountConfig(initial_cash=1e10),
        paced=False,
        data=DataConfig(source="demo"),
        jobs=JobsConfig(daily_sync="", backup="", daily_summary=""),
        risk=risk_off(),
        alerting=alerting,
    )


def trade(ports: list[int] | None, seconds: float, interval: float) -> dict[str, Any]:
    tmp = tempfile.TemporaryDirectory()
    svc = open_services(Path(tmp.name), ports)
    fills: list[float] = []
    svc.bus.register(EVENT_TRADE, lambda _: fills.append(time.perf_counter()))
    svc.start()
    stop = threading.Event()

    def market() -> None:
        while not stop.is_set():
            svc.gateway.advance(1)  # type: ignore[union-attr]
            time.sleep(0.01)

    mover = threading.Thread(target=market, daemon=True)
    mover.start()
    submit_ms: list[float] = []
    n, t0 = 0, time.perf_counter()
    try:
        while time.perf_counter() - t0 < seconds:
            symbol = SYMBOLS[n % len(SYMBOLS)]
            tick = svc.market.get(symbol)
            if tick is not None:
                intent = OrderIntent(
                    f"t{n}", symbol, "buy", "limit", 100 * (1 + n % 3), tick.ask_price_1
                )
                start = time.perf_counter()
                svc.orders.submit(intent)
                submit_ms.append((time.perf_counter() - start) * 1000)
            n += 1
            time.sleep(interval)
        stop.set()
        mover.join()
        svc.bus.wait_idle()
        counted = [f for f in fills if f >= t0]
        gaps = [(b - a) * 1000 for a, b in itertools.pairwise(counted)]
        halt = kill(svc)
    finally:
        stop.set()
        svc.stop()
        tmp.cleanup()
    return {
        "fills": len(counted),
        "fills_per_s": round(len(counted) / seconds, 1),
        "longest_gap_ms": round(max(gaps), 1) if gaps else None,
        "submit_ms": {
            "p50": round(percentile(submit_ms, 50), 3),
            "p99": round(percentile(submit_ms, 99), 3),
            "max": round(max(submit_ms), 3),
        },
        **halt,
    }


def kill(svc: Services) -> dict[str, float]:
    """200 resting orders, then the kill switch: the call, and until none is working."""
    for i in range(200):
        tick = svc.market.get(SYMBOLS[i % len(SYMBOLS)])
        assert tick is not None
        price = round(tick.bid_price_1 * 0.98, 2)  # resting, inside the price band
        svc.orders.submit(OrderIntent(f"k{i}", tick.vt_symbol, "buy", "limit", 100, price))
    svc.bus.wait_idle()
    working = len(svc.orders.working_ids())
    t0 = time.perf_counter()
    svc.kill_switch("bench")
    called = time.perf_counter() - t0
    while svc.orders.working_ids() and time.perf_counter() - t0 < 30:
        time.sleep(0.001)
    return {
        "resting_before_halt": working,
        "kill_call_ms": round(called * 1000, 1),
        "kill_until_cancelled_ms": round((time.perf_counter() - t0) * 1000, 1),
    }


def on_screen(ports: list[int] | None, seconds: float, interval: float) -> dict[str, Any]:
    """The same flow into the console (headless App, full rendering): each fill's time
    from the bus to the orders pane, the longest the pane went without a new fill, and
    ctrl+k (pressed as a key) to HALTED on screen."""
    import asyncio

    from console.app import QuantdeskApp
    from console.config import Config, WatchlistSection
    from panes.header import StatusHeader
    from panes.orders import Orders
    from services.ops.watchlist import WatchlistStore

    tmp = tempfile.TemporaryDirectory()
    svc = open_services(Path(tmp.name), ports)
    filled_at: dict[str, float] = {}
    svc.bus.register(
        EVENT_TRADE, lambda e: filled_at.setdefault(e.data.vt_orderid, time.perf_counter())
    )
    config = Config(watchlist=WatchlistSection(symbols=SYMBOLS), jobs=JobsConfig("", "", ""))
    store = WatchlistStore(Path(tmp.name) / "w.json", SYMBOLS, svc.universe)
    app = QuantdeskApp(svc, config, store)
    shown: dict[str, float] = {}
    screen_gaps: list[float] = []

    async def run() -> dict[str, Any]:
        async with app.run_test(size=(160, 48)) as pilot:
            await app.workers.wait_for_complete()
            stop = threading.Event()

            def flow() -> None:
                n = 0
                while not stop.is_set():
                    svc.gateway.advance(1)  # type: ignore[union-attr]
                    tick = svc.market.get(SYMBOLS[n % len(SYMBOLS)])
                    if tick is not None:
                        qty = 100 * (1 + n % 3)
                        svc.orders.submit(
                            OrderIntent(
                                f"u{n}", tick.vt_symbol, "buy", "limit", qty, tick.ask_price_1
                            )
                        )
                    n += 1
                    time.sleep(interval)

            thread = threading.Thread(target=flow, daemon=True)
            thread.start()
            t0 = last = time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                await asyncio.sleep(0.005)
                now = time.perf_counter()
                for oid in app.query_one(Orders).rows:
                    key = str(oid.value)
                    if key in filled_at and key not in shown:
                        shown[key] = now
                        screen_gaps.append(now - last)
                        last = now
            stop.set()
            thread.join()
            start = time.perf_counter()
            await pilot.press("ctrl+k")
            header = app.query_one(StatusHeader)
            while not header.has_class("-halted") and time.perf_counter() - start < 30:
                await asyncio.sleep(0.001)
            halted_s = time.perf_counter() - start
        lag = [(shown[k] - filled_at[k]) * 1000 for k in shown]
        return {
            "fills_shown": len(shown),
            "fill_to_screen_ms": {
                "p50": round(percentile(lag, 50), 1),
                "p99": round(percentile(lag, 99), 1),
                "max": round(max(lag), 1),
            },
            "longest_screen_gap_ms": round(max(screen_gaps) * 1000, 1),
            "ctrl_k_to_halted_on_screen_ms": round(halted_s * 1000, 1),
        }

    try:
        return asyncio.run(run())
    finally:
        tmp.cleanup()


def compare(ports: list[int], seconds: float, interval: float) -> dict[str, Any]:
    """The peer, the alerting arm, the peer again (what identical runs differ by)."""
    trade(None, 2.0, interval)  # warm-up: imports, the first journal
    arms = {
        "peer_a": trade(None, seconds, interval),
        "alerting": trade(ports, seconds, interval),
        "peer_b": trade(None, seconds, interval),
    }

    def ratio(key: str, sub: str | None = None) -> float | None:
        a, p = arms["alerting"], arms["peer_a"]
        num, den = (a[key][sub], p[key][sub]) if sub else (a[key], p[key])
        return round(num / den, 2) if den else None

    screen = {
        "peer_a": on_screen(None, seconds, interval),
        "alerting": on_screen(ports, seconds, interval),
        "peer_b": on_screen(None, seconds, interval),
    }
    return {
        "seconds": seconds,
        "interval_s": interval,
        "arms": arms,
        "console": screen,
        "fill_rate_ratio": ratio("fills_per_s"),
        "submit_p99_ratio": ratio("submit_ms", "p99"),
        "kill_until_cancelled_ratio": ratio("kill_until_cancelled_ms"),
    }


def failing_channels() -> tuple[list[int], list[Any]]:
    """Three ways a channel fails, each a local server in its own process (as a real
    service is): answering 500, hanging past the channel's timeout, and a port where
    nothing listens (connection refused)."""
    import multiprocessing
    import socket

    from bench.alert_burst import serve
    from tests.alert_servers import Script

    ports, procs = [], []
    for script in (Script(status=500, body=b"{}"), Script(delay_s=60.0)):
        parent, child = multiprocessing.Pipe()
        proc = multiprocessing.Process(target=serve, args=(script, child), daemon=True)
        proc.start()
        ports.append(parent.recv())
        procs.append(proc)
    with socket.socket() as free:  # bound and closed: nothing listens there
        free.bind(("127.0.0.1", 0))
        ports.append(free.getsockname()[1])
    return ports, procs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=0.02)
    args = parser.parse_args()
    ports, procs = failing_channels()
    try:
        figures = compare(ports, args.seconds, args.interval)
    finally:
        for proc in procs:
            proc.kill()
    write("alert_trading", figures)


if __name__ == "__main__":
    main()
