"""An alert burst: 1,000 alerting events in one second, with and without alerting.

Each round starts a fresh bus and puts the same paced burst on it (one event a
millisecond): 890 fills, 100 refusals (three rules, each on its own symbol) and 10
HALTs. A probe handler at the UI's priority records each event's dispatch lag (put
to probe, so every handler before it counts). The peer is the same burst on a bus
with no alert service; with alerting, the alert service and its courier process
(services.alerts.courier), with three channels (apprise json:// to local HTTP
servers, each in its own process as a real service would be): one answering at once,
one taking 0.5 s, one answering 500.

Target: the bus's p99 dispatch lag unchanged within noise. The noise is measured,
not assumed: each round runs the peer twice (A and B, the same work) around the
alerting round, so A against B is what identical runs differ by on this machine.
Reported: the median over rounds of each round's p99, the p99 of all rounds' lags
pooled, the ratios alerting/A and B/A, and a two-sided Mann-Whitney U test of the
rounds' p99s, alerting against both peers (p >= 0.05: no difference this run can
detect). Also: the alerts collapsed as [alerts] says (dedupe_s, per_minute), and a
HALT alert's delivery time on an idle CPU and on one that spinning processes keep
busy (the courier runs as SCHED_IDLE). Last, the trading phase (bench/alert_trading.py):
the order path and the console with every fill alerting to channels that answer 500,
hang or refuse, against the same flow without alerting.
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

from scipy.stats import mannwhitneyu
from vnpy.event import Event
from vnpy.trader.constant import Direction, Exchange
from vnpy.trader.object import TradeData

from bench.common import percentile, summary, write
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


def open_service(
    bus: Bus, data_dir: Path, named_ports: list[tuple[str, int]], **config: Any
) -> AlertService:
    """The alert service, registered and started (its courier with it), with a json://
    channel to each stand-in."""
    channels = [
        Channel(
            ChannelConfig(name, f"alerts.{name}"),
            f"json://127.0.0.1:{port}/{name}",
            timeout_s=5.0,
            min_gap_s=0.0,
        )
        for name, port in named_ports
    ]
    cfg = AlertsConfig(channels=tuple(c.config for c in channels), **config)
    service = AlertService(bus, cfg, channels, data_dir, AlertRules(cfg))
    service.register()
    service.start()
    return service


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
        named = list(zip(("fast", "slow", "failing"), ports, strict=True))
        service = open_service(bus, Path(tmp.name), named, retry_s=30)
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
    out: dict[str, Any] = {"put_s": round(put_s, 3), "lag_ms": summary(lags), "lags": lags}
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


def spin() -> None:
    while True:
        pass


def delivery_s(port: int, busy: int, repeats: int = 3) -> list[float]:
    """Seconds from raising a HALT alert to the channel's answer, with ``busy`` spinning
    processes (nice 0) beside it: the courier is SCHED_IDLE, so this is its cost on a
    CPU kept busy (a sweep) -- slowed, not stopped."""
    tmp = tempfile.TemporaryDirectory()
    service = open_service(Bus(), Path(tmp.name), [("fast", port)], dedupe_s=0)
    spinners = [multiprocessing.Process(target=spin, daemon=True) for _ in range(busy)]
    for proc in spinners:
        proc.start()
    out = []
    try:
        time.sleep(1.0)
        for i in range(repeats):
            alert = service.rules.make("halt", "Trading HALTED", f"bench {i}", f"halt:{i}")
            t0 = time.perf_counter()
            outcome = service.raise_alert(alert, wait_s=120)
            out.append(round(time.perf_counter() - t0, 3) if outcome["fast"] == "sent" else -1)
    finally:
        for proc in spinners:
            proc.kill()
        service.stop()
        tmp.cleanup()
    return out


def arm(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One arm's figures: medians over rounds, and percentiles of every lag pooled."""
    pooled = [lag for r in rounds for lag in r["lags"]]
    return {
        **{k: round(statistics.median(r["lag_ms"][k] for r in rounds), 3) for k in ("p50", "p99")},
        "pooled_p99": round(percentile(pooled, 99), 3),
        "pooled_p999": round(percentile(pooled, 99.9), 3),
        "max": round(max(pooled), 3),
        "p99_per_round": [round(r["lag_ms"]["p99"], 3) for r in rounds],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument(
        "--trading-s", type=float, default=20.0, help="each arm of the trading phase (0: skip)"
    )
    args = parser.parse_args()
    ports, procs = start_servers()
    rounds: dict[str, list[dict[str, Any]]] = {"peer_a": [], "alerting": [], "peer_b": []}
    try:
        one_round(False, args.events, args.seconds, ports)  # warm-up, both ways
        one_round(True, args.events, args.seconds, ports)
        for n in range(args.rounds):
            for name in rounds:
                rounds[name].append(one_round(name == "alerting", args.events, args.seconds, ports))
            print(
                f"round {n + 1}/{args.rounds}: p99 "
                + ", ".join(f"{k} {v[-1]['lag_ms']['p99']:.3f}" for k, v in rounds.items())
                + " ms",
                file=sys.stderr,
            )
        cores = os.cpu_count() or 1
        delivery = {
            "idle_cpu_s": delivery_s(ports[0], 0),
            f"{cores + 1}_spinning_processes_on_{cores}_cores_s": delivery_s(ports[0], cores + 1),
        }
    finally:
        for proc in procs:
            proc.kill()
    trading = None
    if args.trading_s:  # the order path beside failing channels (bench/alert_trading.py)
        from bench.alert_trading import compare, failing_channels

        failing, servers = failing_channels()
        try:
            trading = compare(failing, args.trading_s, 0.02)
        finally:
            for proc in servers:
                proc.kill()
    arms = {name: arm(rows) for name, rows in rounds.items()}
    peers = arms["peer_a"]["p99_per_round"] + arms["peer_b"]["p99_per_round"]
    test = mannwhitneyu(arms["alerting"]["p99_per_round"], peers, alternative="two-sided")

    def ratio(a: str, b: str, key: str) -> float:
        return round(float(arms[a][key]) / float(arms[b][key]), 2)

    figures = {
        "events": args.events,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "lag_ms": arms,
        "p99_ratio": ratio("alerting", "peer_a", "p99"),
        "noise_p99_ratio_b_over_a": ratio("peer_b", "peer_a", "p99"),
        "pooled_p99_ratio": ratio("alerting", "peer_a", "pooled_p99"),
        "noise_pooled_p99_ratio_b_over_a": ratio("peer_b", "peer_a", "pooled_p99"),
        "mann_whitney_p": round(float(test.pvalue), 3),
        "halt_delivery": delivery,
        "last_round_alerts": rounds["alerting"][-1].get("alerts"),
        "trading_beside_failing_channels": trading,
        "config": "dedupe_s 300, per_minute 6, retry_s 30; fast, slow (0.5 s) and failing (500)",
    }
    write("alert_burst", figures)


if __name__ == "__main__":
    main()
