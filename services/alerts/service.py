"""The alert service, in the trading process: bus events in, alerts to the courier.

The bus's dispatcher only puts each event it is registered for on a queue (a
microsecond). A writer thread runs the rules (services.alerts.rules) over the queue in
order and sends the alerts, in batches, as JSON lines to the alert courier -- a child
process (services.alerts.courier) that de-duplicates, routes, writes the outbox and
delivers -- so no delivery work runs beside the dispatcher. The writer holds the GIL
while it works, so between events it steps aside whenever the bus has an event
waiting: the dispatcher never waits on more than one rule.
A reader thread takes the courier's answers: each channel's state (for the system
monitor, the header, the metrics), a channel failing or back (published on the bus),
the outcome of an alert someone waits for, and its log records.

Nothing is lost between the two: each alert has a sequence number and is kept here
until the courier says it is in the outbox; if the courier dies it is started again
and what it had not stored is sent again.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vnpy.event import Event

from services.alerts.config import AlertsConfig
from services.alerts.model import Alert, ChannelState
from services.alerts.protocol import alert_row, init_message, state_from_json
from services.alerts.rules import AlertRules
from services.bus import Bus, Priority
from services.events import EVENT_ALERT_DELIVERY, AlertDelivery

if TYPE_CHECKING:
    from services.alerts.channels import Channel

log = logging.getLogger("quantdesk.alerts")

COURIER = [sys.executable, "-m", "services.alerts.courier"]
GATHER_S = 0.05  # the writer sends what came in this long as one write
CHUNK = 16  # alerts encoded per json.dumps call
YIELD_S = 0.0002  # the writer steps aside this long while the bus has work
START_S = 20.0  # the courier must say it is ready within this


class AlertService:
    """Alerts from the bus (and from jobs) to the courier, and its news back."""

    def __init__(
        self,
        bus: Bus,
        config: AlertsConfig,
        channels: list[Channel],
        data_dir: Path,
        rules: AlertRules,
    ) -> None:
        self.bus, self.config, self.rules = bus, config, rules
        self.channels, self.data_dir = channels, data_dir
        self._queue: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._next_seq = 1  # of the next alert sent (the writer's alone)
        self._unstored: deque[dict[str, Any]] = deque()  # sent, not yet in the outbox
        self._lock = threading.Lock()  # the data below; never held while writing the pipe
        self._pipe = threading.Lock()  # the courier's stdin and which courier it is
        self._waits: dict[int, tuple[threading.Event, dict[str, str]]] = {}
        self._syncs: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._proc: subprocess.Popen[str] | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.report: dict[str, Any] = {"states": [], "warnings": [], "idle": True}
        self.restarts = 0
        self.down = ""  # why the courier is not running ("" while it is)

    # -- in -------------------------------------------------------------------------------
    def register(self) -> None:
        """One handler per event type a rule reads (services.alerts.rules): it queues the
        event's data for the writer thread, which runs the rule (vnpy's trades and the
        order updates the rules read are final states: reading them later is safe)."""
        for type_, rule in self.rules.handlers().items():
            self.bus.register(type_, self._handler(rule), Priority.SERVICE)

    def _handler(
        self, rule: Callable[[Any], Alert | list[Alert] | None]
    ) -> Callable[[Event], None]:
        put = self._queue.put

        def on_event(event: Event) -> None:
            put({"rule": rule, "data": event.data})

        on_event.__qualname__ = f"AlertService.{getattr(rule, '__name__', 'rule')}"
        return on_event

    def raise_alert(self, alert: Alert, wait_s: float = 0.0) -> dict[str, str]:
        """Send ``alert`` (from any thread). With ``wait_s``, wait that long for each
        channel's outcome: channel -> "sent", "failed: why" or "pending"."""
        wanted = [c.name for c in self.channels if c.config.wants(alert)]
        if not wait_s:
            self._queue.put({"alert": alert})
            return {}
        wid, done = next(self._ids), threading.Event()
        results: dict[str, str] = {}
        with self._lock:
            self._waits[wid] = (done, results)
        self._queue.put({"alert": alert, "wait": wid})
        done.wait(wait_s)
        with self._lock:
            self._waits.pop(wid, None)
        return {name: results.get(name, "pending") for name in wanted}

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Start the courier (it takes up what was pending at the last stop) and the
        threads that talk to it. A courier that cannot start is logged, shown as a
        warning and tried again; alerts wait here meanwhile."""
        try:
            self._spawn()
        except OSError as exc:
            self.down = str(exc)
            log.error("%s", exc)
        for target, name in ((self._write, "alerts-out"), (self._watch, "alerts-in")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _spawn(self) -> None:
        logs = self.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(logs / "alerts-courier.log", "a", encoding="utf-8") as err:  # its tracebacks
            proc = subprocess.Popen(
                COURIER,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                encoding="utf-8",
                bufsize=1,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        assert proc.stdin is not None and proc.stdout is not None
        init = json.dumps(init_message(self.config, self.channels, self.data_dir))
        with self._pipe:
            with self._lock:
                again = [doc["line"] for doc in self._unstored]
            try:  # the URLs go over the pipe: never in argv or the environment
                proc.stdin.write("\n".join([init, *again]) + "\n")
                proc.stdin.flush()
                ready = proc.stdout.readline()
                while ready.startswith('{"log"'):  # what it says while starting
                    self._read([ready])
                    ready = proc.stdout.readline()
            except OSError as exc:
                ready = str(exc)
            if not ready.startswith('{"ready"'):
                proc.kill()
                proc.wait()
                raise OSError(
                    f"the alert courier did not start ({ready.strip() or 'no answer'}): see "
                    f"{logs / 'alerts-courier.log'}"
                )
            self._proc, self.down = proc, ""

    def stop(self) -> None:
        """Stop the courier after what is queued here reached it (what it has not sent
        stays pending in its outbox for the next start)."""
        self._stopping.set()
        self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=5)
        proc = self._proc
        if proc is not None:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    # -- the writer: alerts to the courier ---------------------------------------------------
    def _write(self) -> None:
        while True:
            first = self._queue.get()
            batch = [first]
            if first is not None:
                time.sleep(GATHER_S)
                while True:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
            rows, waits, others = self._encode(batch)
            encoded = self._rows_json(rows)  # before the lock: it steps aside for the bus
            with self._pipe:  # so that a courier started meanwhile gets each alert once
                lines = []
                if rows:
                    seq0, self._next_seq = self._next_seq, self._next_seq + len(rows)
                    last = seq0 + len(rows) - 1
                    line = f'{{"alerts":[{encoded}],"seq":{seq0},"last":{last}'
                    line += f',"waits":{json.dumps(waits)}}}' if waits else "}"
                    with self._lock:
                        self._unstored.append({"last": last, "line": line})
                    lines.append(line)
                lines += others
                if None in batch:
                    lines.append('{"stop": true}')
                if lines:
                    self._send("\n".join(lines) + "\n")
            if None in batch:
                return

    def _encode(
        self, batch: list[dict[str, Any] | None]
    ) -> tuple[list[list[str]], dict[str, int], list[str]]:
        """The queued events through their rules, in order (the rules keep state: a feed
        or a broker alerts on changes), each alert as its row; who waits for which
        (by index); the other requests' lines. A rule that fails is logged, the rest go
        on. Between events the writer steps aside while the bus has work: this thread
        holds the GIL, and the dispatcher must never wait on an alert."""
        rows: list[list[str]] = []
        waits: dict[str, int] = {}
        others: list[str] = []
        for doc in batch:
            if doc is None:
                continue
            self._step_aside()
            if "rule" in doc:
                try:
                    found = doc["rule"](doc["data"])
                except Exception:
                    log.exception("alert rule %s failed", getattr(doc["rule"], "__name__", "?"))
                    continue
                if found is not None:
                    for alert in found if isinstance(found, list) else (found,):
                        rows.append(alert_row(alert))
            elif "alert" in doc:
                if "wait" in doc:
                    waits[str(len(rows))] = doc["wait"]
                rows.append(alert_row(doc["alert"]))
            else:
                others.append(json.dumps(doc))
        return rows, waits, others

    def _rows_json(self, rows: list[list[str]]) -> str:
        """``rows`` as the inside of a JSON array, encoded a few at a time (one call per
        row costs three times as much; one for a whole burst would hold the GIL too long)."""
        parts = []
        for i in range(0, len(rows), CHUNK):
            if i:
                self._step_aside()
            parts.append(json.dumps(rows[i : i + CHUNK], ensure_ascii=False)[1:-1])
        return ",".join(parts)

    def _step_aside(self) -> None:
        """While the bus has an event waiting, let the dispatcher have the GIL first."""
        if self.bus.depth:
            time.sleep(YIELD_S)

    def _send(self, text: str) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None:
            return  # down: the alerts wait in _unstored for the next courier
        try:
            proc.stdin.write(text)
            proc.stdin.flush()
        except (OSError, ValueError):
            pass  # it died: the watcher starts another, which is sent _unstored

    # -- the reader: the courier's news ------------------------------------------------------
    def _watch(self) -> None:
        """Read the courier's news; when it ends (a crash), start another."""
        while not self._stopping.is_set():
            proc = self._proc
            if proc is not None and proc.stdout is not None:
                self._read(proc.stdout)
                code = proc.wait()
                if self._stopping.is_set():
                    return
                self._proc = None
                self.down = f"the alert courier stopped (exit {code})"
                log.error(
                    "%s: starting it again (%d alerts not yet stored)",
                    self.down,
                    len(self._unstored),
                )
            if self._stopping.wait(min(30.0, 2.0 ** min(self.restarts, 5))):
                return
            self.restarts += 1
            try:
                self._spawn()
            except OSError as exc:
                self.down = str(exc)
                log.error("%s", exc)

    def _read(self, stream: Iterable[str]) -> None:
        for line in stream:
            try:
                doc = json.loads(line)
            except ValueError:
                log.warning("alert courier said: %s", line.strip()[:200])
                continue
            if "report" in doc:
                self.report = doc["report"]
                if doc.get("sync") is not None:
                    with self._lock:
                        self._syncs[int(doc["sync"])] = doc["report"]
            elif "stored" in doc:
                seq = int(doc["stored"])
                with self._lock:
                    while self._unstored and self._unstored[0]["last"] <= seq:
                        self._unstored.popleft()
            elif "delivery" in doc:
                d = doc["delivery"]
                change = AlertDelivery(d["channel"], bool(d["ok"]), d["detail"], datetime.now())
                self.bus.publish(EVENT_ALERT_DELIVERY, change)
            elif "waited" in doc:
                with self._lock:
                    waiting = self._waits.get(int(doc["waited"]))
                if waiting is not None:
                    waiting[1].update(doc["results"])
                    waiting[0].set()
            elif "log" in doc:
                log.log(int(doc["log"]["level"]), "%s", doc["log"]["message"])

    # -- out ------------------------------------------------------------------------------
    def states(self) -> list[ChannelState]:
        """Each channel's state as the courier last reported it (every 0.5 s)."""
        reported = {s["name"]: state_from_json(s) for s in self.report.get("states", [])}
        return [
            reported.get(c.name) or ChannelState(c.name, c.target, 0, 0, 0, 0)
            for c in self.channels
        ]

    def warnings(self) -> list[str]:
        """For the system monitor and the header: failing channels, an outbox not
        written, a courier that is down."""
        out = list(self.report.get("warnings", []))
        return ["alerts/courier down (see the log)", *out] if self.down else out

    def sync(self, timeout: float = 10.0) -> dict[str, Any] | None:
        """The courier's report once it has routed everything sent before this call."""
        n = next(self._ids)
        self._queue.put({"sync": n})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = self._syncs.pop(n, None)
            if found is not None:
                return found
            time.sleep(0.01)
        return None

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Until nothing waits to be routed or sent (tests and the benchmark)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            report = self.sync(max(0.1, deadline - time.monotonic()))
            if report is not None and report["idle"]:
                return True
            time.sleep(0.05)
        return False
