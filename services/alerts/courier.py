"""The alert courier: the process that delivers alerts (``python -m services.alerts.courier``).

Delivery is Python work -- routing, the outbox, and above all apprise building and
sending HTTP and SMTP requests -- and in the trading process every bit of it would
hold the GIL that the bus's dispatcher needs: a burst of a thousand alerts raised
its p99 dispatch lag six-fold (bench/alert_burst.py). So the trading process only
runs the rules and writes each alert as one JSON line to this child's stdin; the
child runs the router and the channels' workers (services.alerts.router) and
answers on stdout.

Lines in (one JSON object each): ``{"init": {...}}`` first (config, and each
channel's URL: over the pipe, never in argv or the environment), then ``{"alerts":
[rows], "seq": n, "waits": {index: id}}`` (a batch, numbered from ``seq``),
``{"sync": n}`` and ``{"stop": true}``. The child runs as background work
(SCHED_IDLE): on a busy CPU the trading process's threads always run first.
Lines out: ``{"ready": ...}``, ``{"stored": seq}`` (written to the outbox: the parent
may forget it), ``{"delivery": ...}`` (a channel fails, or is back), ``{"waited": id,
"results": ...}``, ``{"report": ...}`` (every half second, and for a sync) and
``{"log": ...}`` (records the parent logs as its own). At the end of its stdin (the
parent is gone) the child stops; what is pending stays in the outbox.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from services.alerts.channels import Channel
from services.alerts.config import AlertsConfig, ChannelConfig
from services.alerts.delivery import Waiter
from services.alerts.protocol import alert_from_row
from services.alerts.router import Router
from services.ops.background import background
from services.ops.redact import RedactingFilter, RedactingStream

REPORT_S = 0.5


class _Out:
    """stdout, one whole line at a time from any thread."""

    def __init__(self, stream: TextIO) -> None:
        self.stream, self.lock = stream, threading.Lock()

    def send(self, doc: dict[str, Any]) -> None:
        line = json.dumps(doc, ensure_ascii=False, default=str)
        with self.lock:
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except (BrokenPipeError, ValueError):  # the parent is gone: stdin's end stops us
                pass


class _ToParent(logging.Handler):
    """Log records go up the pipe; the parent logs them as its own."""

    def __init__(self, out: _Out) -> None:
        super().__init__(logging.INFO)
        self.out = out
        self.addFilter(RedactingFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.out.send({"log": {"level": record.levelno, "message": record.getMessage()}})


def _open(init: dict[str, Any], out: _Out) -> Router:
    """The router of what ``init`` configures; what it has to say goes to ``out``."""
    raw = [dict(c) for c in init["channels"]]
    configs = [
        ChannelConfig(c["name"], c["secret"], c["min_severity"], tuple(c["kinds"])) for c in raw
    ]
    config = AlertsConfig(**{**init["config"], "channels": tuple(configs)})
    channels = [
        Channel(cfg, c["url"], c["timeout_s"], c["min_gap_s"])
        for cfg, c in zip(configs, raw, strict=True)
    ]
    return Router(
        config,
        channels,
        Path(init["data_dir"]),
        on_change=_changed(out),
        on_stored=lambda seq: out.send({"stored": seq}),
    )


def report(router: Router, sync: int | None = None) -> dict[str, Any]:
    return {
        "report": {
            "states": [asdict(s) for s in router.states()],
            "warnings": router.warnings(),
            "received": router.received,
            "collapsed": router.deduper.collapsed,
            "unrouted": router.unrouted,
            "requests": {n: [w.sends, w.digests] for n, w in router.workers.items()},
            "idle": router.idle(),
        },
        "sync": sync,
    }


def _answer(out: _Out, wid: int) -> Callable[[dict[str, str]], None]:
    return lambda results: out.send({"waited": wid, "results": results})


def _synced(out: _Out, router: Router, n: int) -> Callable[[], None]:
    return lambda: out.send(report(router, n))


def _changed(out: _Out) -> Callable[[str, bool, str], None]:
    return lambda channel, ok, detail: out.send(
        {"delivery": {"channel": channel, "ok": ok, "detail": detail}}
    )


def main(stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    background()
    # Its tracebacks (to alerts-courier.log) are masked like everything else: each
    # channel's URL is remembered as a secret when the channel opens.
    if not isinstance(sys.stderr, RedactingStream):
        sys.stderr = RedactingStream(sys.stderr)
    # systemd's stop and ctrl+c signal the whole group: the courier ends when the trading
    # process closes its stdin, after that process has handed over its last alerts
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = _Out(stdout)
    log = logging.getLogger("quantdesk.alerts")
    log.addHandler(_ToParent(out))
    log.setLevel(logging.INFO)
    log.propagate = False
    first = stdin.readline()
    if not first:
        return 0
    router = _open(json.loads(first)["init"], out)
    router.start()
    out.send({"ready": True})
    done = threading.Event()

    def reporting() -> None:
        while not done.wait(REPORT_S):
            out.send(report(router))

    threading.Thread(target=reporting, name="report", daemon=True).start()
    try:
        for line in stdin:
            doc = json.loads(line)
            if "alerts" in doc:  # a batch: rows, and who waits for which (by index)
                seq, waits = int(doc["seq"]), doc.get("waits") or {}
                router.put_many(
                    [
                        (
                            alert_from_row(row),
                            Waiter(_answer(out, int(waits[str(i)]))) if str(i) in waits else None,
                            seq + i,
                        )
                        for i, row in enumerate(doc["alerts"])
                    ]
                )
            elif "sync" in doc:
                router.put_sync(_synced(out, router, int(doc["sync"])))
            elif doc.get("stop"):
                break
    finally:
        done.set()
        router.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
