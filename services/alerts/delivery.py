"""One channel's deliveries, on its own thread: in order, rate-limited, retried.

A slow or failing channel delays only itself: the bus never waits for a delivery,
and one channel never waits for another. Per channel:

- **rate**: a bucket of ``[alerts] per_minute`` sends, refilled evenly. What
  arrives together (within ``GATHER_S``) is taken together: while the waiting alerts
  fit in what is left of the bucket, each goes alone; when more wait than that, one
  send carries them all as a digest and spends the bucket, so a flood is one digest
  now and then one per refill. Critical alerts never wait for the bucket.
- **retries**: a failed send is tried again after ``retry_s``, doubling (at most
  10 minutes) while the channel keeps failing; an alert is given up after
  ``retries`` more tries -- marked failed in the outbox, logged and shown.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from services.alerts.channels import Channel
from services.alerts.config import AlertsConfig
from services.alerts.model import Alert, ChannelState, Severity, rank
from services.alerts.outbox import Outbox
from services.clock import cst

log = logging.getLogger("quantdesk.alerts")

MAX_BACKOFF_S = 600.0
DIGEST_LINES = 20
GATHER_S = 0.25  # a first alert waits this long for the rest of a burst


class Waiter:
    """Someone (the daily summary, a test) waiting for an alert's deliveries: once the
    router knows which channels take it (:meth:`expect`), ``on_done`` gets every
    channel's outcome ("sent" or "failed: why") when the last one is known."""

    def __init__(self, on_done: Callable[[dict[str, str]], None]) -> None:
        self.on_done = on_done
        self.results: dict[str, str] = {}
        self._left: set[str] | None = None
        self._lock = threading.Lock()

    def expect(self, channels: list[str]) -> None:
        with self._lock:
            self._left = set(channels) - set(self.results)
            finished = not self._left
        if finished:
            self.on_done(dict(self.results))

    def done(self, channel: str, outcome: str) -> None:
        with self._lock:
            self.results[channel] = outcome
            if self._left is None:
                return
            self._left.discard(channel)
            finished = not self._left
        if finished:
            self.on_done(dict(self.results))


@dataclass(slots=True)
class Item:
    id: int
    alert: Alert
    attempts: int = 0
    waiters: list[Waiter] | None = None


def digest(items: list[Item]) -> tuple[str, str, Severity]:
    """Several alerts as one message: counts by kind, then the first lines."""
    kinds = Counter(i.alert.kind for i in items)
    worst = max((i.alert.severity for i in items), key=rank)
    title = (
        f"quantdesk: {len(items)} alerts ("
        + ", ".join(f"{n} {k}" for k, n in kinds.most_common())
        + ")"
    )
    lines = [f"{cst(i.alert.at)} {i.alert.title}" for i in items[:DIGEST_LINES]]
    if len(items) > DIGEST_LINES:
        lines.append(f"… and {len(items) - DIGEST_LINES} more: quantdesk alerts list")
    return title, "\n".join(lines), worst


class ChannelWorker:
    """Delivers to one channel from its own thread; see the module's docstring."""

    def __init__(
        self,
        channel: Channel,
        config: AlertsConfig,
        outbox: Outbox,
        on_change: Callable[[str, bool, str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.channel, self.config, self.outbox = channel, config, outbox
        self.on_change, self.clock = on_change, clock
        self.name = channel.name
        self._items: deque[Item] = deque()
        self._critical: deque[Item] = deque()  # never held by the bucket: kept apart
        self._gather_until = 0.0
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.tokens = float(config.per_minute)
        self._refilled = clock()
        self.failures = 0  # consecutive failed sends
        self.retry_at = 0.0
        self.error = ""
        self.failing_since: datetime | None = None
        self.sent = self.failed = self.sends = 0  # alerts delivered, given up; requests made
        self.digests = 0
        self._sending = 0  # alerts in the send under way

    # -- from the router -----------------------------------------------------------------
    def put(self, items: list[Item]) -> None:
        with self._cond:
            if not self._items and not self._critical:
                self._gather_until = self.clock() + GATHER_S
            for item in items:
                (self._critical if item.alert.severity == "critical" else self._items).append(item)
            self._cond.notify()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"alert-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop after the send under way (what waits stays pending in the outbox)."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def state(self) -> ChannelState:
        with self._cond:
            queued = len(self._items) + len(self._critical)
            held = len(self._items) if self._items and self._rate_bound(self.clock()) else 0
            waiting = queued + self._sending
            retry = max(0.0, self.retry_at - self.clock()) if self.error else 0.0
        return ChannelState(
            self.name,
            self.channel.target,
            self.sent,
            self.failed,
            waiting - held,
            held,
            self.error,
            self.failing_since,
            retry,
        )

    # -- the thread ------------------------------------------------------------------------
    def _refill(self, now: float) -> None:
        rate = self.config.per_minute / 60.0
        self.tokens = min(
            float(self.config.per_minute), self.tokens + (now - self._refilled) * rate
        )
        self._refilled = now

    def _rate_bound(self, now: float) -> bool:
        """Nothing may go now for the rate limit (and nothing waiting is critical)."""
        self._refill(now)
        return self.tokens < 1 and not self._critical and now >= self.retry_at

    def _take(self, now: float) -> tuple[list[Item], float]:
        """What to send now, or how long to wait before anything may go."""
        if not self._items and not self._critical:
            return [], 1.0
        if now < max(self.retry_at, self._gather_until):
            return [], max(self.retry_at, self._gather_until) - now
        self._refill(now)
        if self._critical:  # never held by the bucket, never behind a backlog
            critical = list(self._critical)
            self._critical.clear()
            self.tokens = max(0.0, self.tokens - 1)
            return critical, 0.0
        budget = int(self.tokens)
        if budget == 0:
            return [], (1 - self.tokens) * 60.0 / self.config.per_minute
        self.tokens -= 1
        if len(self._items) <= budget:
            return [self._items.popleft()], 0.0
        batch = list(self._items)  # more than the bucket allows: one digest carries them,
        self._items.clear()  # and spends what was left of it (a flood: a digest a token)
        self.tokens = 0.0
        return batch, 0.0

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopping:
                        return
                    batch, wait = self._take(self.clock())
                    if batch:
                        self._sending = len(batch)
                        break
                    self._cond.wait(min(wait, 1.0) if wait > 0 else 1.0)
            self._deliver(batch)

    def _deliver(self, batch: list[Item]) -> None:
        if len(batch) == 1:
            alert = batch[0].alert
            title, body, severity = alert.title, alert.body, alert.severity
        else:
            title, body, severity = digest(batch)
        why = self.channel.send(title, body, severity)  # never raises: "" or why not
        self.sends += 1
        ids = [i.id for i in batch]
        if not why:
            self.sent += len(batch)
            self.digests += len(batch) > 1
            for item in batch:
                item.attempts += 1
            self.outbox.mark(self.name, ids, "sent", max(i.attempts for i in batch))
            for item in batch:
                for waiter in item.waiters or ():
                    waiter.done(self.name, "sent")
            self._sending = 0
            if self.error:
                log.info(
                    "alert channel %s delivers again (%s waiting)", self.name, len(self._items)
                )
                self.on_change(self.name, True, "delivers again")
            self.failures, self.error, self.failing_since, self.retry_at = 0, "", None, 0.0
            return
        self._failed(batch, why)

    def _failed(self, batch: list[Item], why: str) -> None:
        now = self.clock()
        self.failures += 1
        backoff = min(self.config.retry_s * 2 ** (self.failures - 1), MAX_BACKOFF_S)
        self.tokens = min(float(self.config.per_minute), self.tokens + 1)  # nothing arrived
        first = not self.error
        self.error, self.retry_at = why, now + backoff
        if first:
            self.failing_since = datetime.now()
        keep: list[Item] = []
        gave_up: list[Item] = []
        for item in batch:
            item.attempts += 1
            (gave_up if item.attempts > self.config.retries else keep).append(item)
        for item in keep:
            self.outbox.mark(self.name, [item.id], "pending", item.attempts, why)
        if gave_up:
            self.failed += len(gave_up)
            self.outbox.mark(self.name, [i.id for i in gave_up], "failed", gave_up[0].attempts, why)
            for item in gave_up:
                log.error(
                    "alert NOT delivered to %s after %d tries (%s): %s",
                    self.name,
                    item.attempts,
                    why,
                    item.alert.title,
                )
                for waiter in item.waiters or ():
                    waiter.done(self.name, f"failed: {why}")
        with self._cond:
            for item in reversed(keep):  # first again, in their order
                queue = self._critical if item.alert.severity == "critical" else self._items
                queue.appendleft(item)
            self._sending = 0
        if first or gave_up:
            level = logging.ERROR if gave_up else logging.WARNING
            log.log(
                level,
                "alert channel %s failing: %s; retry in %.0f s (%d waiting)",
                self.name,
                why,
                backoff,
                len(keep),
            )
        if first:
            self.on_change(self.name, False, why)
