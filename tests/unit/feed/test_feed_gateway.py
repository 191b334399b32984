"""The quote gateway against a local Sina stand-in: quotes on the bus, every failure a real
source gives ending in a clear state (status, log), never a traceback or a frozen price."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from vnpy.trader.object import TickData

from tests.unit.feed.conftest import AT, Harness, quote


def test_one_poll_publishes_every_wanted_quote_in_one_request(harness: Harness) -> None:
    harness.poll()
    assert len(harness.server.requests) == 1
    path, headers = harness.server.requests[0]
    assert path == "/list=sz000001,sh600519"  # both codes (sorted by symbol), one request
    assert headers["Referer"].startswith("https://finance.sina.com.cn")
    ticks = {t.vt_symbol: t for t in harness.ticks if isinstance(t, TickData)}
    assert set(ticks) == {"600519.SSE", "000001.SZSE"}
    t = ticks["600519.SSE"]
    assert (t.last_price, t.bid_price_1, t.ask_price_1) == (1468.0, 1467.99, 1468.01)
    assert (t.bid_volume_1, t.ask_volume_1, t.volume) == (500, 300, 10_000)
    assert (t.limit_down, t.limit_up) == (1321.2, 1614.8) and t.datetime == AT
    assert harness.last.state == "ok" and harness.last.newest == AT


def test_the_feed_polls_only_the_symbols_that_matter(harness: Harness) -> None:
    harness.gateway.wanted = lambda: ["000001.SZSE", "NOT.A.SYMBOL"]
    harness.poll()
    assert harness.server.requests[0][0] == "/list=sz000001"
    harness.gateway.wanted = lambda: []
    harness.poll()
    assert len(harness.server.requests) == 1 and harness.last.state == "idle"
    assert "no symbols" in harness.last.detail


@pytest.mark.parametrize(
    ("action", "words"),
    [
        (("drop",), "connection"),
        (("slow", 2.0), "timed out after 0.5 s"),
        (("5xx",), "HTTP 502 error"),
        (("html",), "an HTML page instead of quotes"),
        (("empty",), "empty response"),
        (("truncated",), "connection"),
        (("cut",), "unreadable response"),
        (("ban",), "HTTP 403 banned"),
    ],
)
def test_every_failure_ends_in_a_clear_state_and_a_log_line(
    harness: Harness, action: tuple[object, ...], words: str, caplog: pytest.LogCaptureFixture
) -> None:
    harness.poll()  # a good poll first: the price on screen
    before = len(harness.ticks)
    harness.server.script.append(action)
    harness.poll()
    assert len(harness.ticks) == before  # nothing half-applied from a bad answer
    status = harness.last
    assert status.state in ("error", "circuit open") and words in status.detail
    assert status.errors == 1 and status.newest == AT  # the age keeps growing from here
    assert any(words in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert not any(r.exc_info for r in caplog.records)  # no traceback anywhere


def test_a_ban_opens_the_circuit_at_once_and_nothing_is_sent_while_open(
    harness: Harness,
) -> None:
    harness.server.script.append(("ban",))
    harness.poll()
    assert harness.last.state == "circuit open"
    sent = len(harness.server.requests)
    wait = harness.poll()
    assert len(harness.server.requests) == sent  # the open circuit sends nothing
    assert harness.last.state == "circuit open" and "next try in" in harness.last.detail
    assert wait > 0


def test_failures_back_off_then_trip_the_breaker_then_recover(harness: Harness) -> None:
    breaker = harness.gateway.breaker
    harness.server.script.extend([("5xx",)] * 3)
    harness.poll()
    assert harness.last.state == "error" and breaker.next_at > 0
    breaker.next_at = 0  # the backoff has passed
    harness.poll()
    breaker.next_at = 0
    harness.poll()  # the third in a row: trip_after = 3
    assert harness.last.state == "circuit open"
    breaker.open_until = breaker.next_at = 0  # the cooldown has passed: a trial request
    harness.poll()
    assert harness.last.state == "ok" and breaker.failures == 0


def test_unknown_and_suspended_symbols_are_reported_once(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.gateway.wanted = lambda: ["600519.SSE", "000001.SZSE", "600036.SSE"]
    harness.server.status["000001.SZSE"] = "03"  # suspended
    for _ in range(3):
        harness.poll()
    messages = [r.getMessage() for r in caplog.records]
    assert sum("600036.SSE: the source does not know" in m for m in messages) == 1
    assert sum("000001.SZSE: not trading today (status 03)" in m for m in messages) == 1
    suspended = [t for t in harness.ticks if isinstance(t, TickData) and t.symbol == "000001"]
    assert suspended and all((t.extra or {}).get("suspended") for t in suspended)


@pytest.mark.parametrize(
    ("at", "phase"),
    [
        (datetime(2026, 11, 24, 12, 0), "lunch"),
        (datetime(2026, 11, 24, 16, 0), "closed"),
        (datetime(2026, 11, 24, 8, 0), "before the open"),
        (datetime(2026, 11, 28, 10, 0), "weekend"),
    ],
)
def test_outside_the_sessions_the_feed_idles_and_says_so(
    harness: Harness, at: datetime, phase: str
) -> None:
    harness.clock.at = at
    harness.poll()  # the start-up snapshot: the last prices, once
    assert len(harness.server.requests) == 1 and harness.ticks
    wait = harness.poll()
    assert len(harness.server.requests) == 1  # idle from then on
    assert harness.last.state == "idle" and harness.last.detail.startswith(phase)
    assert " until " in harness.last.detail and wait >= 1.0


def test_a_holiday_from_the_stored_calendar_keeps_the_feed_idle(harness: Harness) -> None:
    from services.feed.sessions import TradingCalendar

    days = [datetime(2026, 11, d).date() for d in (20, 23, 25, 26, 27)]  # the 24th is a holiday
    harness.gateway.calendar = TradingCalendar(lambda: days)
    harness.poll()
    harness.poll()
    assert len(harness.server.requests) == 1  # the start-up snapshot only
    assert harness.last.detail.startswith("holiday")
    assert harness.last.detail == "holiday until Wed 11-25 09:15"


def test_auction_minutes_poll_but_nothing_matches(harness: Harness) -> None:
    harness.clock.at = datetime(2026, 11, 24, 9, 20)
    harness.server.quotes["600519.SSE"] = replace(quote(), at=harness.clock.at)
    harness.poll()
    assert harness.last.state == "ok" and harness.last.detail == "open auction"
    harness.gateway.send_order(_buy(1470.0))  # marketable, but the auction does not match
    harness.bus.wait_idle()
    assert harness.trades == []
    assert harness.gateway.broker.working_orders()  # it rests for the open


def test_a_new_trading_day_rolls_the_paper_account(harness: Harness) -> None:
    from services.events import EVENT_SESSION_ROLLED

    rolled: list[object] = []
    harness.bus.register(EVENT_SESSION_ROLLED, lambda e: rolled.append(e.data))
    harness.poll()
    harness.clock.at = AT + timedelta(days=1)
    harness.server.quotes["600519.SSE"] = replace(quote(), at=harness.clock.at)
    harness.poll()
    assert [r.trading_day for r in rolled] == [harness.clock.at.date()]  # type: ignore[attr-defined]


def test_an_order_without_a_quote_is_rejected_with_the_reason(harness: Harness) -> None:
    harness.gateway.send_order(_buy(1470.0))
    harness.bus.wait_idle()
    assert harness.orders and harness.orders[-1].status.name == "REJECTED"  # type: ignore[attr-defined]
    assert "no quote for 600519.SSE" in harness.orders[-1].extra["reason"]  # type: ignore[attr-defined]


def _buy(price: float) -> object:
    from vnpy.trader.constant import Direction, Exchange, OrderType
    from vnpy.trader.object import OrderRequest

    return OrderRequest("600519", Exchange.SSE, Direction.LONG, OrderType.LIMIT, 100, price)


def test_a_holiday_keeps_the_scheduler_quiet_too(tmp_path: object) -> None:
    """The services share one calendar: the scheduler's trading days are the feed's."""
    from pathlib import Path

    import pandas as pd

    from services.accounting.costs import CostConfig
    from services.runtime import AccountConfig, build_services
    from services.venues.simulator import SimConfig

    assert isinstance(tmp_path, Path)
    services = build_services(
        tmp_path, sim=SimConfig(), costs=CostConfig(), account=AccountConfig(), mode="paper"
    )
    try:
        services.store.open()
        days = [d.date() for d in pd.bdate_range("2026-11-02", "2026-12-31")]
        services.store.write_calendar([d for d in days if d != datetime(2026, 11, 24).date()])
        services.calendar.refresh()
        assert services.scheduler.trading_day(datetime(2026, 11, 24).date()) is False
        assert services.scheduler.trading_day(datetime(2026, 11, 25).date()) is True
        gateway = services.gateway
        assert gateway.calendar is services.calendar  # type: ignore[union-attr]
    finally:
        services.stop()


@pytest.mark.parametrize(
    ("status", "now_s", "words", "warn"),
    [
        (("ok", "continuous"), 2, "sina 2 s", False),
        (("ok", "open auction"), 1, "sina 1 s · open auction", False),
        (("ok", "continuous"), 20, "sina STALE 20 s", True),
        (("idle", "lunch until 13:00"), 0, "sina idle: lunch until 13:00", False),
        (("error", "timed out after 2 s"), 0, "sina ERROR: timed out after 2 s · 1 err", True),
        (
            ("circuit open", "HTTP 403 banned"),
            0,
            "sina CIRCUIT OPEN: HTTP 403 banned · 1 err",
            True,
        ),
    ],
)
def test_the_header_says_what_the_feed_is_doing(
    status: tuple[str, str], now_s: int, words: str, warn: bool
) -> None:
    from services.events import FeedStatus
    from services.feed.gateway import feed_line

    errors = 1 if status[0] in ("error", "circuit open") else 0
    line = feed_line(
        FeedStatus("sina", *status, newest=AT, errors=errors), AT + timedelta(seconds=now_s), 15
    )
    assert line == (words, warn)


def test_a_full_disk_stops_the_recording_not_the_feed(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """/dev/full answers every write with ENOSPC, as a full disk does."""
    from pathlib import Path

    from services.feed.gateway import feed_line
    from services.feed.source import Recorder

    harness.gateway.recorder = Recorder(Path("/dev/full"))
    harness.poll()
    harness.poll()  # the feed goes on
    assert len(harness.server.requests) == 2 and harness.last.state == "ok"
    assert "RECORDING STOPPED" in harness.last.detail
    assert feed_line(harness.last, AT, 15)[1] is True  # a warning in the header
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "No space left on device" in errors[0]


def test_an_internal_error_backs_off_and_the_feed_keeps_polling(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    import threading

    from tests.unit.feed.sina_server import wait_for

    calls = [0]

    def wanted() -> list[str]:
        calls[0] += 1
        if calls[0] == 1:
            raise RuntimeError("a bug in a handler")
        return ["600519.SSE"]

    class Clock:
        stop = threading.Event()

        def now(self) -> datetime:
            return AT

        def sleep(self, seconds: float) -> bool:
            return not self.stop.wait(min(seconds, 0.05))

    harness.gateway.wanted = wanted
    harness.gateway.clock = Clock()  # type: ignore[assignment]
    harness.gateway.connect({})
    assert wait_for(lambda: harness.server.requests, timeout=10)
    harness.bus.wait_idle()
    assert any(s.state == "error" and "a bug in a handler" in s.detail for s in harness.statuses)
    assert wait_for(lambda: harness.gateway.status.state == "ok")
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1  # logged once, with its traceback


def test_a_quote_before_the_first_trade_shows_no_price_and_marks_nothing(
    harness: Harness,
) -> None:
    """Before the day's first trade the source sends last = 0 (the auction's indicative
    price is on the book): no bar, no sparkline point, no mark of a position at 0."""
    from services.accounting.costs import CostConfig
    from services.accounting.portfolio import Portfolio
    from services.events import EVENT_TICK
    from services.instruments import DEFAULT_UNIVERSE, Universe
    from services.market import MarketCache
    from services.trading.live import LiveRunner

    market = MarketCache()
    portfolio = Portfolio(Universe(DEFAULT_UNIVERSE), CostConfig(), 1_000_000, market)
    portfolio._book.apply_fill("600519.SSE", "buy", 100, 1468.0, 0.0)  # held from yesterday
    bars: list[object] = []
    runner = LiveRunner([], lambda s: (0, 0), lambda s, side: 0.0, lambda *a: None, lambda s: 0.0)
    runner.builder.on_bar = lambda *a: bars.append(a)
    harness.bus.register(EVENT_TICK, market.on_tick)
    harness.bus.register(EVENT_TICK, runner.on_tick)
    harness.clock.at = datetime(2026, 11, 24, 9, 20)
    pre_open = replace(
        quote(),
        at=harness.clock.at,
        last=0.0,
        open=0.0,
        high=0.0,
        low=0.0,
        volume=0,
        bid=1470.0,
        ask=1470.0,
    )
    harness.server.quotes["600519.SSE"] = pre_open
    harness.poll()
    assert market.get("600519.SSE") is not None and market.trail("600519.SSE", 10) == ()
    assert portfolio.view().equity == pytest.approx(1_000_000, abs=1)  # still at 1468
    assert bars == [] and "600519.SSE" not in runner.builder._bars
