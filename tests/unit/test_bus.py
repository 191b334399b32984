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


def test_handlers_run_by_priority_whatever_the_registration_order() -> None:
    from services.bus import Priority

    bus = Bus()
    seen: list[str] = []
    bus.register("x", lambda e: seen.append("ui"), Priority.UI)
    bus.register("x", lambda e: seen.append("service"))
    bus.register("x", lambda e: seen.append("ledger"), Priority.LEDGER)
    bus.register("x", lambda e: seen.append("journal"), Priority.JOURNAL)
    bus.register("x", lambda e: seen.append("service 2"))
    bus.start()
    try:
        bus.publish("x")
        assert bus.wait_idle()
    finally:
        bus.stop()
    assert seen == ["journal", "ledger", "service", "service 2", "ui"]


def test_the_journal_sees_an_order_before_the_ui_even_if_the_ui_registered_first(
    tmp_path: object,
) -> None:
    """The order the services are wired in no longer decides it: priorities do."""
    from pathlib import Path

    from services.bus import Priority
    from services.events import EVENT_ORDER, OrderIntent
    from tests.conftest import make_services

    assert isinstance(tmp_path, Path)
    services = make_services(tmp_path)
    journaled_when_ui_saw: list[int] = []
    services.bus.register(
        EVENT_ORDER,
        lambda e: journaled_when_ui_saw.append(len(services.journal.entries("order"))),
        Priority.UI,
    )
    # the journal registers again, after the UI handler: its priority still puts it first
    services.bus.unregister(EVENT_ORDER, services.journal.on_order)
    services.bus.register(EVENT_ORDER, services.journal.on_order, Priority.JOURNAL)
    services.start()
    try:
        assert services.bus.wait_idle()
        tick = services.market.get("600519.SSE")
        assert tick is not None
        services.orders.submit(
            OrderIntent("p", "600519.SSE", "buy", "limit", 100, tick.ask_price_1)
        )
        assert services.bus.wait_idle()
    finally:
        services.stop()
    assert journaled_when_ui_saw and all(
        n == i + 1 for i, n in enumerate(journaled_when_ui_saw)
    )  # the n-th order update was on disk when the UI saw it


def test_one_bus_event_per_tick(tmp_path: object) -> None:
    from pathlib import Path

    from tests.conftest import make_services

    assert isinstance(tmp_path, Path)
    services = make_services(tmp_path)
    types: list[str] = []
    services.bus.register_general(lambda e: types.append(e.type))
    services.start()
    try:
        assert services.bus.wait_idle()
        types.clear()
        services.gateway.advance(50)
        assert services.bus.wait_idle()
    finally:
        services.stop()
    assert types.count("eTick.") == 50
    assert not [t for t in types if t.startswith("eTick.") and t != "eTick."]


def test_the_touch_is_the_ask_for_a_buy_the_bid_for_a_sell_else_the_last() -> None:
    from datetime import datetime

    from vnpy.trader.constant import Exchange
    from vnpy.trader.object import TickData

    from services.market import MarketCache

    cache = MarketCache()
    assert cache.touch("600519.SSE", "buy") is None
    tick = TickData(
        "sim", "600519", Exchange.SSE, datetime(2026, 11, 23, 10), last_price=10.0,
        bid_price_1=9.99, ask_price_1=10.01,
    )  # fmt: skip
    cache.on_tick(Event("eTick.", tick))
    assert (cache.touch("600519.SSE", "buy"), cache.touch("600519.SSE", "sell")) == (10.01, 9.99)
    tick.ask_price_1 = 0.0  # nobody sells: a buy is priced at the last
    assert cache.touch("600519.SSE", "buy") == 10.0


def test_unregister_owner_removes_every_handler_of_one_object() -> None:
    bus = Bus()

    class Gateway:
        def __init__(self) -> None:
            self.calls = 0

        def on_timer(self, event: Event) -> None:
            self.calls += 1

        def on_any(self, event: Event) -> None:
            self.calls += 1

    gone, kept = Gateway(), Gateway()
    for gw in (gone, kept):
        bus.register("eTimer", gw.on_timer)
        bus.register_general(gw.on_any)
    assert bus.unregister_owner(gone) == 2
    bus.start()
    try:
        bus.publish("eTimer")
        assert bus.wait_idle()
    finally:
        bus.stop()
    assert gone.calls == 0 and kept.calls >= 2
