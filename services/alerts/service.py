"""The alert service: bus events in, de-duplicated alerts out to each channel's worker.

The bus's dispatcher only runs a rule (services.alerts.rules) and puts what it returns
on a queue. One router thread takes the queue in batches: it collapses alerts of
one key within ``dedupe_s`` (the window's count goes out when it closes), routes
each alert to the channels that want it, writes them to the outbox in one
transaction and hands them to the channels' workers (services.alerts.delivery).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from vnpy.event import Event

from services.alerts.channels import Channel
from services.alerts.config import AlertsConfig
from services.alerts.delivery import ChannelWorker, Item, Waiter
from services.alerts.model import Alert, ChannelState
from services.alerts.outbox import FILE, Outbox
from services.alerts.rules import AlertRules
from services.bus import Bus, Priority
from services.events import EVENT_ALERT_DELIVERY, AlertDelivery

log = logging.getLogger("quantdesk.alerts")

BATCH = 500  # alerts taken from the queue at a time


@dataclass
class _Window:
    first: Alert
    first_id: int
    since: float
    count: int = 0  # collapsed into it since
    last: Alert | None = None


class Deduper:
    """Alerts of one key within ``window_s``: the first goes, the rest are counted, and
    the count goes out as one more alert when the window closes."""

    def __init__(self, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s, self.clock = window_s, clock
        self.windows: dict[str, _Window] = {}
        self._expired: list[_Window] = []  # replaced by a new window before closed() saw them
        self.collapsed = 0

    def admit(self, alert: Alert) -> bool:
        """True to send it now; False when it was collapsed into an open window."""
        if not self.window_s:
            return True
        window = self.windows.get(alert.key)
        now = self.clock()
        if window is None or now - window.since >= self.window_s:
            if window is not None and window.count:
                self._expired.append(window)  # its count goes out with this batch
            self.windows[alert.key] = _Window(alert, 0, now)
            return True
        window.count += 1
        window.last = alert
        self.collapsed += 1
        return False

    def stored(self, alert: Alert, alert_id: int) -> None:
        """``alert`` opened its window and was written as ``alert_id``."""
        window = self.windows.get(alert.key)
        if window is not None and window.first is alert:
            window.first_id = alert_id

    def closed(self, resolves: Iterable[str] = ()) -> list[tuple[_Window, Alert]]:
        """Windows that closed (by time, or resolved by an alert just admitted) and had
        alerts collapsed into them: each with the alert that tells their count."""
        now = self.clock()
        ended = [k for k, w in self.windows.items() if now - w.since >= self.window_s]
        ended += [k for k in resolves if k in self.windows and k not in ended]
        out = []
        windows, self._expired = [*self._expired, *(self.windows.pop(k) for k in ended)], []
        for window in windows:
            if window.count and window.last is not None:
                last = window.last
                repeat = replace(
                    last,
                    title=f"{last.title} (×{window.count} more since {window.first.at:%H:%M:%S})",
                    at=last.at,
                )
                out.append((window, repeat))
        return out


class AlertService:
    """Alerts from the bus (and from jobs) to the configured channels."""

    def __init__(
        self,
        bus: Bus,
        config: AlertsConfig,
        channels: list[Channel],
        data_dir: Path,
        rules: AlertRules,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bus, self.config, self.rules = bus, config, rules
        self.channels = channels
        self.outbox = Outbox(data_dir / FILE)
        self.deduper = Deduper(config.dedupe_s, clock)
        self.workers = {
            c.name: ChannelWorker(c, config, self.outbox, self._changed, clock) for c in channels
        }
        self._inbox: queue.SimpleQueue[tuple[Alert, Waiter | None] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.received = self.unrouted = 0

    # -- in -------------------------------------------------------------------------------
    def register(self) -> None:
        """One handler per event type a rule reads (services.alerts.rules)."""
        for type_, rule in self.rules.handlers().items():
            self.bus.register(type_, self._handler(rule), Priority.SERVICE)

    def _handler(
        self, rule: Callable[[Any], Alert | list[Alert] | None]
    ) -> Callable[[Event], None]:
        put = self._inbox.put

        def on_event(event: Event) -> None:
            found = rule(event.data)
            if found is None:
                return
            for alert in found if isinstance(found, list) else (found,):
                put((alert, None))

        on_event.__qualname__ = f"AlertService.{getattr(rule, '__name__', 'rule')}"
        return on_event

    def raise_alert(self, alert: Alert, wait_s: float = 0.0) -> dict[str, str]:
        """Send ``alert`` (from any thread). With ``wait_s``, wait that long for each
        channel's outcome: channel -> "sent", "failed: why" or "pending"."""
        wanted = [c.name for c in self.channels if c.config.wants(alert)]
        waiter = Waiter(len(wanted)) if wait_s else None
        self._inbox.put((alert, waiter))
        if waiter is None:
            return {}
        waiter.event.wait(wait_s)
        return {name: waiter.results.get(name, "pending") for name in wanted}

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Take up what was pending at the last stop, then start the threads."""
        for name, worker in self.workers.items():
            stored = self.outbox.pending(name)
            if stored:
                log.warning(
                    "alert channel %s: %d alerts pending since the last run", name, len(stored)
                )
                worker.put([Item(s.id, s.alert, s.attempts) for s in stored])
            worker.start()
        self._thread = threading.Thread(target=self._run, name="alerts", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._inbox.put(None)
            self._thread.join(timeout=3)
            self._thread = None
        for worker in self.workers.values():
            worker.stop()
        self.outbox.close()

    # -- the router --------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            try:
                first = self._inbox.get(timeout=1.0)
            except queue.Empty:
                first = ()  # type: ignore[assignment]
            batch: list[tuple[Alert, Waiter | None]] = []
            stop = first is None
            if first:
                batch.append(first)
            while not stop and len(batch) < BATCH:
                try:
                    more = self._inbox.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                else:
                    batch.append(more)
            try:
                self._route(batch)
            except Exception:  # a bug here must not end alerting: say so, go on
                log.exception("alert router failed on %d alerts", len(batch))
            if stop:
                return

    def _route(self, batch: list[tuple[Alert, Waiter | None]]) -> None:
        self.received += len(batch)
        admitted: list[tuple[Alert, Waiter | None]] = []
        for alert, waiter in batch:
            if waiter is not None or self.deduper.admit(alert):
                admitted.append((alert, waiter))
        closed = self.deduper.closed(a.resolves for a, _ in admitted if a.resolves)
        for window, _ in closed:
            self.outbox.collapsed(window.first_id, window.count)
        # a window's count first (it is older), then what was admitted (opening windows)
        sends = [(r, None, False) for _, r in closed] + [(a, w, True) for a, w in admitted]
        routed = []
        for alert, waiter, opens in sends:
            wanted = [w for w in self.workers.values() if w.channel.config.wants(alert)]
            if not wanted:
                self.unrouted += 1
                continue
            routed.append((alert, waiter, opens, wanted))
        if not routed:
            return
        ids = self.outbox.add([(a, [w.name for w in ws]) for a, _, _, ws in routed])
        by_worker: dict[str, list[Item]] = {}
        for alert_id, (alert, waiter, opens, wanted) in zip(ids, routed, strict=True):
            if opens:
                self.deduper.stored(alert, alert_id)
            for worker in wanted:
                item = Item(alert_id, alert, waiters=[waiter] if waiter else [])
                by_worker.setdefault(worker.name, []).append(item)
        for name, items in by_worker.items():
            self.workers[name].put(items)

    # -- out ------------------------------------------------------------------------------
    def _changed(self, change: AlertDelivery) -> None:
        self.bus.publish(EVENT_ALERT_DELIVERY, change)

    def states(self) -> list[ChannelState]:
        return [w.state() for w in self.workers.values()]

    def warnings(self) -> list[str]:
        """For the system monitor: each failing channel, and an outbox that cannot be written."""
        out = [f"alerts/{s.name} failing ({s.error})" for s in self.states() if s.error]
        if self.outbox.error:
            out.append(f"alerts/outbox not written ({self.outbox.error})")
        return out

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Until nothing waits to be routed or sent (tests and the benchmark)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (
                self._inbox.empty()
                and all(s.pending == 0 and s.held == 0 for s in self.states())
                and all(not w.busy_since for w in self.workers.values())
            ):
                return True
            time.sleep(0.02)
        return False
