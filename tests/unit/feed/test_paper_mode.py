"""Paper mode end to end against the local Sina stand-in: its own journal, orders through
the same checks and paper broker, the stale-quote rule on real quote ages, and minute
bars of what was seen stored as source ``live``."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from services.accounting.costs import CostConfig
from services.events import OrderIntent
from services.feed.config import FeedConfig
from services.runtime import AccountConfig, Services, build_services
from services.venues.simulator import SimConfig
from tests.unit.feed.conftest import quote
from tests.unit.feed.sina_server import SinaServer, wait_for

SYMBOL = "600036.SSE"


class StepClock:
    """Exchange time that moves forward by whatever the feed sleeps, 100x faster than real."""

    def __init__(self, at: datetime) -> None:
        self.at = at
        self.stop = threading.Event()

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> bool:
        self.at += timedelta(seconds=seconds)
        return not self.stop.wait(seconds / 100)


def paper(data_dir: Path, server: SinaServer, clock: StepClock) -> Services:
    services = build_services(
        data_dir,
        sim=SimConfig(),
        costs=CostConfig(),
        account=AccountConfig(),
        mode="paper",
        feed=FeedConfig(url=server.url, timeout_s=0.5, interval_s=3.0, stale_s=15.0),
        strategies=[],
    )
    services.gateway.clock = clock  # type: ignore[assignment]
    services.market.clock = clock.now
    services.watched = {SYMBOL}
    services.prepare_market()
    services.start()
    return services


def test_paper_mode_trades_real_quotes_in_its_own_account_and_stores_what_it_saw(
    tmp_path: Path,
) -> None:
    clock = StepClock(datetime(2026, 11, 24, 10, 0, 0))
    with SinaServer() as server:
        server.quotes[SYMBOL] = quote(SYMBOL, last=43.10, at=clock.at)

        def move() -> None:  # each request sees the market one poll later
            q = server.quotes[SYMBOL]
            last = round(q.last + (0.01 if int(clock.at.timestamp()) % 2 else -0.01), 2)
            server.quotes[SYMBOL] = replace(
                q,
                at=clock.at,
                last=last,
                bid=round(last - 0.01, 2),
                ask=round(last + 0.01, 2),
                volume=q.volume + 1_000,
            )

        server.on_request = move  # type: ignore[attr-defined]
        services = paper(tmp_path, server, clock)
        try:
            assert wait_for(lambda: services.market.get(SYMBOL) is not None)
            assert services.mode == "PAPER"
            assert (tmp_path / "paper" / "journal.sqlite3").exists()
            assert not (tmp_path / "journal.sqlite3").exists()  # the demo account is untouched
            ask = services.market.get(SYMBOL).ask_price_1  # type: ignore[union-attr]
            result = services.orders.submit(
                OrderIntent("t1", SYMBOL, "buy", "limit", 100, round(ask + 0.05, 2))
            )
            assert result.accepted, result.violations
            assert wait_for(lambda: services.portfolio.qty(SYMBOL) == 100)
            # the market moves on for a few minutes: bars close
            assert wait_for(lambda: clock.at >= datetime(2026, 11, 24, 10, 4), timeout=20)
        finally:
            clock.stop.set()
            services.stop()
        stored = services.store.read_bars(SYMBOL, "1m")
        assert len(stored) >= 3 and stored.index[0] == datetime(2026, 11, 24, 10, 0)
        meta = services.store.meta(SYMBOL, "1m")
        assert meta is not None and meta.source == "live"


def test_a_feed_that_stops_answering_makes_quotes_stale_and_orders_refused(
    tmp_path: Path,
) -> None:
    clock = StepClock(datetime(2026, 11, 24, 10, 0, 0))
    with SinaServer() as server:
        server.quotes[SYMBOL] = quote(SYMBOL, last=43.10, at=clock.at)
        services = paper(tmp_path, server, clock)
        try:
            assert wait_for(lambda: services.market.get(SYMBOL) is not None)
            server.script.extend([("5xx",)] * 1000)  # the source fails from now on
            assert wait_for(lambda: (services.market.age(SYMBOL) or 0) > 20, timeout=20)
            result = services.orders.submit(OrderIntent("t2", SYMBOL, "buy", "limit", 100, 43.20))
            assert not result.accepted
            assert [v.rule for v in result.violations] == ["stale_quote"]
            status = services.gateway.status  # type: ignore[union-attr]
            assert status.state in ("error", "backoff", "circuit open") and status.errors > 0
        finally:
            clock.stop.set()
            services.stop()
