"""The in-process message bus: vnpy's EventEngine, made safe and observable.

Stock vnpy calls every handler inside one comprehension, so the first
exception ends the dispatcher thread silently while the timer keeps queueing.
:class:`Bus` isolates each handler (log, count, publish ``HandlerFailed``,
carry on), stamps each event when it is put so that the dispatcher can
measure lag (the age of the event it is handling), and reports queue depth.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from vnpy.event import EVENT_TIMER, Event, EventEngine

from services.events import EVENT_HANDLER_FAILED, HandlerFailed

log = logging.getLogger("quantdesk.bus")

HandlerType = Any  # Callable[[Event], None]; vnpy's alias is untyped


class Priority:
    """When a handler runs among the handlers of one event type, lowest first.

    Correctness depends on it: an order update is on disk (JOURNAL) before our
    ledgers move (LEDGER), before the services that react to both (SERVICE), before
    the screen is told (UI). Handlers of equal priority run in registration order.
    """

    JOURNAL = 0
    LEDGER = 10
    SERVICE = 20
    UI = 90


EVENT_BARRIER = "qd.Barrier"  # internal: wait_idle() sets its threading.Event when dispatched
_now = time.perf_counter


def _release_barrier(event: Event) -> None:
    event.data.set()


@dataclass(frozen=True)
class BusStats:
    """A reading of the bus for the header: "bus 0.4 ms / 0"."""

    depth: int
    lag_ms: float  # worst dispatch lag seen over the last completed window
    handled: int
    failures: int


class Bus(EventEngine):
    """vnpy EventEngine with handler isolation, lag and depth metrics."""

    def __init__(self, interval: int = 1, lag_window_s: float = 1.0) -> None:
        super().__init__(interval)
        # A crashed app must not hang on vnpy's non-daemon threads at exit.
        self._thread.daemon = True
        self._timer.daemon = True
        self._lag_window_s = lag_window_s
        self._window_start = time.perf_counter()
        self._window_max = 0.0
        self._lag_reported = 0.0
        self._handled = 0
        self._failures: Counter[tuple[str, str]] = Counter()
        self._failures_lock = threading.Lock()
        self._stopping = threading.Event()
        self._dispatch: dict[str, tuple[HandlerType, ...]] = {}
        self._priority: dict[str, dict[HandlerType, int]] = {}
        self._general: tuple[HandlerType, ...] = ()
        self.register(EVENT_BARRIER, _release_barrier)

    # -- lifecycle: vnpy's stop() waits out a 1 s sleep and a 1 s queue poll ----------
    def _run_timer(self) -> None:
        while self._active and not self._stopping.wait(self._interval):
            self.put(Event(EVENT_TIMER))

    def stop(self) -> None:
        """Stop both threads at once (events still queued are not dispatched)."""
        self._active = False
        self._stopping.set()
        self.put(Event(EVENT_BARRIER, threading.Event()))  # wake the dispatcher
        if self._timer.is_alive():
            self._timer.join()
        if self._thread.is_alive():
            self._thread.join()

    # -- registration: dispatch reads immutable tuples, so no per-event copies ----------
    def register(self, type: str, handler: HandlerType, priority: int = Priority.SERVICE) -> None:
        """Call ``handler`` for every ``type`` event, after the handlers of lower
        ``priority`` (see :class:`Priority`), whatever the order of registration."""
        super().register(type, handler)
        self._priority.setdefault(type, {}).setdefault(handler, priority)
        self._order(type)

    def unregister(self, type: str, handler: HandlerType) -> None:
        super().unregister(type, handler)
        self._priority.get(type, {}).pop(handler, None)
        self._order(type)

    def _order(self, type: str) -> None:
        ranks = self._priority.get(type, {})
        handlers = self._handlers.get(type, [])
        self._dispatch[type] = tuple(
            h
            for _, _, h in sorted(
                (ranks.get(h, Priority.SERVICE), i, h) for i, h in enumerate(handlers)
            )
        )

    def unregister_owner(self, owner: object) -> int:
        """Remove every handler that is a method of ``owner`` (a gateway being closed: a
        stock vnpy gateway leaves its timer handler registered, and vnpy_ctp's then calls
        into the API it has just released). Returns how many."""
        removed = 0
        for type_, handlers in list(self._handlers.items()):
            for handler in [h for h in handlers if getattr(h, "__self__", None) is owner]:
                self.unregister(type_, handler)
                removed += 1
        for handler in [h for h in self._general_handlers if getattr(h, "__self__", None) is owner]:
            self.unregister_general(handler)
            removed += 1
        return removed

    def register_general(self, handler: HandlerType) -> None:
        super().register_general(handler)
        self._general = tuple(self._general_handlers)

    def unregister_general(self, handler: HandlerType) -> None:
        super().unregister_general(handler)
        self._general = tuple(self._general_handlers)

    # -- publishing -----------------------------------------------------------
    def put(self, event: Event) -> None:
        event.t_put = _now()  # type: ignore[attr-defined]  # stamped for lag
        self._queue.put(event)

    def publish(self, type_: str, data: object = None) -> None:
        """Put an event of ``type_`` carrying ``data``."""
        self.put(Event(type_, data))

    # -- dispatching ----------------------------------------------------------
    def _process(self, event: Event) -> None:
        now = _now()
        lag = now - event.t_put  # type: ignore[attr-defined]
        if lag > self._window_max:
            self._window_max = lag
        if now - self._window_start >= self._lag_window_s:
            self._lag_reported = self._window_max
            self._window_max = 0.0
            self._window_start = now
        self._handled += 1
        handlers = self._dispatch.get(event.type)
        if handlers:
            for handler in handlers:
                try:
                    handler(event)
                except Exception as exc:
                    self._failed(event, handler, exc)
        if self._general:
            for handler in self._general:
                try:
                    handler(event)
                except Exception as exc:
                    self._failed(event, handler, exc)

    def _failed(self, event: Event, handler: HandlerType, exc: Exception) -> None:
        name = getattr(handler, "__qualname__", repr(handler))
        key = (event.type, name)
        with self._failures_lock:
            self._failures[key] += 1
            count = self._failures[key]
        if count == 1:
            log.error("handler %s failed on %s event", name, event.type, exc_info=exc)
        elif count in (10, 100) or count % 1000 == 0:
            log.error("handler %s has failed %d times on %s events", name, count, event.type)
        if event.type != EVENT_HANDLER_FAILED:  # never loop on our own error events
            self.publish(EVENT_HANDLER_FAILED, HandlerFailed(event.type, name, repr(exc), count))

    def settle(self, timeout: float = 2.0) -> None:
        """From any thread but the dispatcher's: return once what is being dispatched now
        is done (nothing if the bus is not running)."""
        if (
            self._active
            and self._thread.is_alive()
            and threading.current_thread() is not self._thread
        ):
            self.wait_idle(timeout)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until every event put before this call has been dispatched."""
        done = threading.Event()
        self.put(Event(EVENT_BARRIER, done))
        return done.wait(timeout)

    # -- metrics --------------------------------------------------------------
    @property
    def depth(self) -> int:
        return self._queue.qsize()

    def stats(self) -> BusStats:
        now = time.perf_counter()
        lag = self._lag_reported
        if now - self._window_start >= 2 * self._lag_window_s:
            lag = 0.0  # idle: nothing dispatched for a whole window
        lag = max(lag, self._window_max)
        with self._failures_lock:
            failures = sum(self._failures.values())
        return BusStats(self.depth, lag * 1000, self._handled, failures)

    def failure_count(self, event_type: str | None = None) -> int:
        with self._failures_lock:
            return sum(n for (t, _), n in self._failures.items() if event_type in (None, t))
