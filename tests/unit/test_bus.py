"""The bus survives failing handlers and reports its health."""

from __future__ import annotations

import threading

from vnpy.event import Event

from services.bus import Bus
from services.events import EVENT_HANDLER_FAILED, HandlerFailed


def test_bus_keeps_dispatching_to_every_other_handler_after_1000_exceptions() -> None:
    bus = Bus()
    seen: list[int] = []
    seen_general: list[str] = []
    failures: list[HandlerFailed] = []

    def broken(event: Event) -> None:
        raise RuntimeError(f"boom {event.data}")

    bus.register("x", broken)
    bus.register("x", lambda e: seen.append(e.data))
    bus.register_general(lambda e: seen_general.append(e.type))
    bus.register(EVENT_HANDLER_FAILED, lambda e: failures.append(e.data))
    bus.start()
    try:
        for i in range(1000):
            bus.put(Event("x", i))
        assert bus.wait_idle(10)
        assert bus.wait_idle(10)  # the HandlerFailed events queued behind
        assert seen == list(range(1000))
        assert seen_general.count("x") == 1000
        assert bus.failure_count("x") == 1000
        assert len(failures) == 1000
        assert failures[-1].count == 1000 and "boom 999" in failures[-1].error
        assert bus.stats().failures == 1000
        # and it still works afterwards
        bus.put(Event("x", 1000))
        assert bus.wait_idle(5)
        assert seen[-1] == 1000
    finally:
        bus.stop()


def test_a_failing_error_handler_does_not_loop() -> None:
    bus = Bus()
    calls = []

    def broken(event: Event) -> None:
        calls.append(event.type)
        raise ValueError("also broken")

    bus.register("x", broken)
    bus.register(EVENT_HANDLER_FAILED, broken)
    bus.start()
    try:
        bus.put(Event("x"))
        for _ in range(3):
            assert bus.wait_idle(5)
        assert calls == ["x", EVENT_HANDLER_FAILED]
    finally:
        bus.stop()


def test_depth_and_lag_are_measured() -> None:
    bus = Bus(lag_window_s=0.01)
    gate = threading.Event()
    bus.register("slow", lambda e: gate.wait(5))
    bus.start()
    try:
        bus.put(Event("slow"))
        for i in range(50):
            bus.put(Event("x", i))
        assert bus.stats().depth >= 49
        gate.set()
        assert bus.wait_idle(5)
        stats = bus.stats()
        assert stats.depth == 0
        assert stats.handled >= 51
    finally:
        bus.stop()


def test_lag_reports_age_of_events_that_waited() -> None:
    bus = Bus(lag_window_s=10)
    gate = threading.Event()
    bus.register("slow", lambda e: gate.wait(5))
    bus.start()
    try:
        bus.put(Event("slow"))
        bus.put(Event("x"))
        threading.Timer(0.2, gate.set).start()
        assert bus.wait_idle(5)
        assert bus.stats().lag_ms >= 150  # "x" waited ~200 ms behind the slow handler
    finally:
        bus.stop()
