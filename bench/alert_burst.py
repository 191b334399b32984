"""An alert burst: 1,000 alerting events in one second, with and without alerting.

Each round starts a fresh bus and puts the same paced burst on it (one event a
millisecond): 890 fills, 100 refusals (three rules, each on its own symbol) and 10
HALTs. A probe handler at the UI's priority records each event's dispatch lag (put
to probe, so every handler before it counts). The peer is the same burst on a bus
with no alert service; with alerting, the alert service and its courier process
(services.alerts.courier), with three channels (apprise json:// to local HTTP
servers, each in its own process as a real service would be): one answering at once,
one taking 0.5 s, one answering 500. Rounds
alternate peer / alerting after one warm-up each. Target: the bus's p99 dispatch lag
unchanged within noise; the alerts collapsed as [alerts] says (dedupe_s, per_minute).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vnpy.event import Event
from vnpy.trader.constant import Direction, Exchange
from vnpy.trader.object import TradeData

from bench.common import summary, write
from services.alerts.channels import Channel
from services.alerts.config import AlertsConfig, ChannelConfig
from services.alerts.rules import AlertRules
from services.alerts.service import AlertService
from services.bus import Bus, Priority
from services.events import (
    EVENT_INTENT_REJECTED,
    EVENT_TRADE,
    EVENT_TRADING_STATE_CHANGED,
    IntentRejected,
    OrderIntent,
    TradingState,
    TradingStateChanged,
    Violation,
)
from tests.alert_servers import HTTPStandIn, Script

RULES = ("max_order_qty", "price_band", "max_position_pct")


def burst(n: int) -> list[Event]:
    """890 fills, 100 refusals, 10 HALTs per 1,000, interleaved."""
    events = []
    for i in range(n):
        if i % 100 == 50:
            change = TradingStateChanged(
                TradingState.HALTED, TradingState.ACTIVE, f"breach {i}", datetime.now()
            )
            events.append(Event(EVENT_TRADING_STATE_CHANGED, change))
        elif i % 10 == 5:
            rule = RULES[i % 3]
            symbol = ("600519", "000001", "300750")[i % 3]
            exchange = "SSE" if symbol.startswith("6") else "SZSE"
            intent = OrderIntent(f"i{i}", f"{symbol}.{exchange}", "buy", "limit", 100, 10.0)
            events.append(
                Event(EVENT_INTENT_REJECTED, IntentRejected(intent, (Violation("x", rule, rule),)))
            )
        else:
            trade = TradeData(
                "SIM",
                "600519",
                Exchange.SSE,
                f"o{i}",
                f"t{i}",
                Direction.LONG,
                price=1688.0,
                volume=100,
            )
            events.append(Event(EVENT_TRADE, trade))
    return events


def serve(script: Script, conn: Any) -> None:
    """A stand-in service in its own process: its port to the parent, then until killed.
    Niced: a real service runs on another machine, not on the bench's two cores."""
    os.nice(19)
    server = HTTPStandIn()
    server.script = script
    conn.send(server.port)
    threading.Event().wait()


def start_servers() -> tuple[list[int], list[multiprocessing.Process]]:
    ports, procs = [], []
    for script in (Script(), Script(delay_s=0.5), Script(status=500, body=b"{}")):
        parent, child = multiprocessing.Pipe()
        proc = multiprocessing.Process(target=serve, args=(script, child), daemon=True)
        proc.start()
        ports.append(parent.recv())
        procs.append(proc)
    return ports, procs


def one_round(alerting: bool, n: int, seconds: float, ports: list[int]) -> dict[str, Any]:
    bus = Bus()
    lags: list[float] = []
    done = threading.Event()

    def probe(event: Event) -> None:
        lags.append((time.perf_counter() - event.t_put) * 1000)  # type: ignore[attr-defined]
        if len(lags) == n:
            done.set()

    for type_ in (EVENT_TRADE, EVENT_INTENT_REJECTED, EVENT_TRADING_STATE_CHANGED):
        bus.register(type_, probe, Priority.UI)
    service = None
    tmp = tempfile.TemporaryDirectory()
    if alerting:
        channels = [
            Channel(
                ChannelConfig(name, f"alerts.{name}"),
                f"json://127.0.0.1:{port}/{name}",
                timeout_s=5.0,
                min_gap_s=0.0,
            )
            for name, port in zip(("fast", "slow", "failing"), ports, strict=True)
        ]
        config = AlertsConfig(channels=tuple(c.config for c in channels), retry_s=30)
        service = AlertService(bus, config, channels, Path(tmp.name), AlertRules(config))
        service.register()
        service.start()
    bus.start()
    events = burst(n)
    t0 = time.perf_counter()
    for i, event in enumerate(events):
        due = t0 + i * seconds / n
        while (now := time.perf_counter()) < due:
            time.sleep(max(0.0, min(due - now, 0.0005)))
        bus.put(event)
    put_s = time.perf_counter() - t0
    done.wait(30)
    out: dict[str, Any] = {"put_s": round(put_s, 3), "lag_ms": summary(lags)}
    if service is not None:
        time.sleep(2.0)  # what the channels send in the next two seconds
        report = service.sync() or {}
        states = {s.name: s for s in service.states()}
        requests = report.get("requests", {})
        out["alerts"] = {
            "events": n,
            "collapsed_by_dedupe": report.get("collapsed"),
            "routed": (report.get("received") or 0) - (report.get("collapsed") or 0),
            "per_channel": {
                name: {
                    "requests": requests.get(name, [0, 0])[0],
                    "digests": requests.get(name, [0, 0])[1],
                    "alerts_sent": state.sent,
                    "waiting": state.pending + state.held,
                    "error": state.error[:60],
                }
                for name, state in states.items()
            },
        }
        service.stop()
    bus.stop()
    tmp.cleanup()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    ports, procs = start_servers()
    try:
        one_round(False, args.events, args.seconds, ports)  # warm-up, both ways
        one_round(True, args.events, args.seconds, ports)
        peer, alerting, last = [], [], {}
        for _ in range(args.rounds):
            peer.append(one_round(False, args.events, args.seconds, ports)["lag_ms"])
            last = one_round(True, args.events, args.seconds, ports)
            alerting.append(last["lag_ms"])
    finally:
        for proc in procs:
            proc.kill()

    def med(rows: list[dict[str, float]], key: str) -> float:
        return round(statistics.median(r[key] for r in rows), 3)

    figures = {
        "events": args.events,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "peer_no_alerts": {k: med(peer, k) for k in ("p50", "p99", "max")},
        "with_alerts": {k: med(alerting, k) for k in ("p50", "p99", "max")},
        "p99_per_round_ms": {
            "peer": [round(r["p99"], 3) for r in peer],
            "alerts": [round(r["p99"], 3) for r in alerting],
        },
        "p99_ratio": round(med(alerting, "p99") / med(peer, "p99"), 2),
        "last_round_alerts": last.get("alerts"),
        "config": "dedupe_s 300, per_minute 6, retry_s 30; fast, slow (0.5 s) and failing (500)",
    }
    write("alert_burst", figures)


if __name__ == "__main__":
    main()
