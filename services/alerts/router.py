"""The router and the channels' workers: de-duplication, routing, the outbox.

It runs in the alert courier (services.alerts.courier), a process of its own: a
burst of alerts costs the trading process nothing but the rules and one pipe. One
router thread takes its queue in batches: it collapses alerts of one key within
``dedupe_s`` (the window's count goes out when it closes), routes each alert to the
channels that want it, writes them to the outbox in one transaction and hands them
to the channels' workers (services.alerts.delivery).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from services.alerts.channels import Channel
from services.alerts.config import AlertsConfig
from services.alerts.delivery import ChannelWorker, Item, Waiter
from services.alerts.model import Alert, ChannelState
from services.alerts.outbox import FILE, Outbox
from services.clock import cst

log = logging.getLogger("quantdesk.alerts")

BATCH = 2000  # alerts taken from the queue at a time
GATHER_S = 0.05  # after the first alert, what else comes in this long is routed with it
Queued = tuple[Alert, Waiter | None, int]  # an alert, who waits for it, its sequence number


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
            if window is not None:
                del self.windows[alert.key]  # re-inserted last: the dict stays in time order
                if window.count:
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
        ended = []
        for key, window in self.windows.items():  # oldest first: stop at the first still open
            if now - window.since < self.window_s:
                break
            ended.append(key)
        ended += [k for k in resolves if k in self.windows and k not in ended]
        out = []
        windows, self._expired = [*self._expired, *(self.windows.pop(k) for k in ended)], []
        for window in windows:
            if window.count and window.last is not None:
                last = window.last
                repeat = replace(
                    last,
                    title=f"{last.title} (×{window.count} more since {cst(window.first.at)})",
                )
                out.append((window, repeat))
        return out


class Router:
    """Alerts in (:meth:`put_many`, any thread), to the channels' workers."""

    def __init__(
        self,
        config: AlertsConfig,
        channels: list[Channel],
        data_dir: Path,
        on_change: Callable[[str, bool, str], None],
        on_stored: Callable[[int], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config, self.channels = config, channels
        self.on_stored = on_stored  # the highest sequence number now on disk (or given up)
        self.outbox = Outbox(data_dir / FILE)
        self.deduper = Deduper(config.dedupe_s, clock)
        self.workers = {
            c.name: ChannelWorker(c, config, self.outbox, on_change, clock) for c in channels
        }
        self._inbox: queue.SimpleQueue[list[Queued] | Callable[[], None] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self.received = self.unrouted = 0

    def put_many(self, alerts: list[Queued]) -> None:
        """A batch, routed whole: acknowledged (``on_stored``) with the rest of it."""
        self._inbox.put(alerts)

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
    def put_sync(self, then: Callable[[], None]) -> None:
        """Call ``then`` once everything put before it has been routed."""
        self._inbox.put(then)

    def _run(self) -> None:
        while True:
            first: list[Queued] | Callable[[], None] | None
            try:
                first = self._inbox.get(timeout=1.0)
            except queue.Empty:
                first = []  # nothing: windows may still close
            batch: list[Queued] = []
            after: Callable[[], None] | None = None
            stop = first is None
            if callable(first):
                after = first
            elif first:
                batch.extend(first)
                time.sleep(GATHER_S)  # a burst is routed in a few batches, not one by one
            while not stop and after is None and len(batch) < BATCH:
                try:
                    more = self._inbox.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                elif callable(more):
                    after = more
                else:
                    batch.extend(more)
            try:
                self._route(batch)
            except Exception:  # a bug here must not end alerting: say so, go on
                log.exception("alert router failed on %d alerts", len(batch))
            if batch:
                self.on_stored(max(seq for _, _, seq in batch))  # on disk, or never will be
            if after is not None:
                after()
            if stop:
                return

    def _route(self, batch: list[Queued]) -> None:
        self.received += len(batch)
        admitted: list[tuple[Alert, Waiter | None]] = []
        for alert, waiter, _ in batch:
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
                if waiter is not None:
                    waiter.expect([])  # no channel takes it: that is the whole outcome
                continue
            routed.append((alert, waiter, opens, wanted))
        if not routed:
            return
        ids = self.outbox.add([(a, [w.name for w in ws]) for a, _, _, ws in routed])
        by_worker: dict[str, list[Item]] = {}
        for alert_id, (alert, waiter, opens, wanted) in zip(ids, routed, strict=True):
            if waiter is not None:
                waiter.expect([w.name for w in wanted])
            if opens:
                self.deduper.stored(alert, alert_id)
            for worker in wanted:
                item = Item(alert_id, alert, 0, [waiter] if waiter else None)
                by_worker.setdefault(worker.name, []).append(item)
        for name, items in by_worker.items():
            self.workers[name].put(items)

    # -- out ------------------------------------------------------------------------------
    def states(self) -> list[ChannelState]:
        return [w.state() for w in self.workers.values()]

    def warnings(self) -> list[str]:
        """Each failing channel, and an outbox that cannot be written."""
        out = [f"alerts/{s.name} failing" for s in self.states() if s.error]  # why: on M
        if self.outbox.error:
            out.append(f"alerts/outbox not written ({self.outbox.error})")
        return out

    def idle(self) -> bool:
        """Nothing waits to be routed or sent."""
        return self._inbox.empty() and all(  # pending counts a send under way
            s.pending == 0 and s.held == 0 for s in self.states()
        )
