"""The console in replay mode: the REPLAY badge, the feed in the header, and a quote that
stopped updating dimmed while the others stay bright."""

from __future__ import annotations

import gzip
import json
from dataclasses import asdict, replace
from datetime import timedelta
from pathlib import Path

from console.app import QuantdeskApp
from console.config import Config, WatchlistSection
from panes.header import StatusHeader
from panes.watchlist import Watchlist
from services.feed import sina
from services.feed.source import RawPoll
from services.ops.scheduler import JobsConfig
from services.ops.watchlist import WatchlistStore
from services.runtime import AccountConfig, build_services
from services.venues.simulator import SimConfig
from tests.unit.feed.conftest import AT, quote

SYMBOLS = ("600519.SSE", "000001.SZSE")


def recording(path: Path) -> Path:
    """600519 quoted every 3 s for 30 s; 000001 only in the first poll (then silent)."""
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for k in range(11):
            at = AT + timedelta(seconds=3 * k)
            lines = [sina.format_line(replace(quote(), at=at, volume=10_000 + k))]
            if k == 0:
                lines.append(sina.format_line(replace(quote("000001.SZSE"), at=at)))
            poll = RawPoll(at.isoformat(), SYMBOLS, 200, "\n".join(lines) + "\n")
            f.write(json.dumps(asdict(poll), ensure_ascii=False) + "\n")
    return path


async def test_replay_shows_its_badge_the_feed_and_dims_a_silent_quote(tmp_path: Path) -> None:
    rec = recording(tmp_path / "session.jsonl.gz")
    config = Config(
        watchlist=WatchlistSection(symbols=SYMBOLS),
        jobs=JobsConfig(daily_sync="", backup="", daily_summary=""),
        strategies=(),
    )
    services = build_services(
        tmp_path / "data",
        sim=SimConfig(),
        costs=config.costs,
        account=AccountConfig(),
        mode="replay",
        replay=rec,
        speed=0,
        strategies=[],
    )
    store = WatchlistStore(tmp_path / "w.json", SYMBOLS, services.universe)
    app = QuantdeskApp(services, config, store)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        for _ in range(100):
            if services.gateway.finished.is_set():  # type: ignore[union-attr]
                break
            await pilot.pause(0.1)
        await pilot.pause(1.5)  # a frame and the once-a-second feed check
        header = app.main.query_one(StatusHeader).render().plain
        assert header.startswith(" REPLAY ")
        assert "replay session.jsonl.gz: finished" in header
        watchlist = app.main.query_one(Watchlist)
        assert watchlist.stale == {"000001.SZSE"}  # 30 s old by the replay's clock
        assert str(watchlist.cell("600519.SSE", "last")) == "1468.00"
        assert "dim" in str(watchlist.cell("000001.SZSE", "last").style)  # type: ignore[union-attr]


async def test_in_paper_mode_any_a_share_can_be_added_and_stays_after_a_restart(
    tmp_path: Path,
) -> None:
    from services.accounting.costs import CostConfig
    from services.feed.config import FeedConfig

    def start() -> QuantdeskApp:
        services = build_services(
            tmp_path / "data",
            sim=SimConfig(),
            costs=CostConfig(),
            account=AccountConfig(),
            mode="paper",
            feed=FeedConfig(url="http://127.0.0.1:9"),  # nothing listens: no internet in tests
            strategies=[],
        )
        store = WatchlistStore(
            tmp_path / "w.json", SYMBOLS, services.universe, extend=services.add_symbol
        )
        config = Config(jobs=JobsConfig(daily_sync="", backup="", daily_summary=""), strategies=())
        return QuantdeskApp(services, config, store)

    app = start()
    async with app.run_test(size=(160, 48)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("a")
        await pilot.pause(0.2)
        for key in "601166":
            await pilot.press(key)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert "601166.SSE" in app.main.query_one(Watchlist).symbols
        assert "601166.SSE" in app.services.universe
        assert "601166.SSE" in app.services.symbols_that_matter()  # the feed will poll it
    again = start()
    async with again.run_test(size=(160, 48)) as pilot:
        await again.workers.wait_for_complete()
        assert "601166.SSE" in again.main.query_one(Watchlist).symbols
