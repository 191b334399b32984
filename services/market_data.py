"""The store side of the running services: open the market from the last stored closes,
write demo history into a brand-new data directory, warm strategies with stored bars,
and the scheduled daily sync.

A mixin of :class:`services.runtime.Services`, which provides the attributes below.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

import pandas as pd

from services.data.fetch import FetchConfig
from services.data.records import StoreInfo
from services.data.sources import make_source
from services.data.sync import DataConfig, Syncer, resolve_universe
from services.events import JobStatus
from services.feed.compare import compare_recorded
from services.feed.sessions import TradingCalendar
from services.instruments import Universe
from services.ops.redact import redact
from services.ops.scheduler import JobResult
from services.store import Store, StoreError
from services.trading.live import LiveRunner
from services.venues.sim_gateway import SimGateway

if TYPE_CHECKING:
    from services.feed.gateway import QuoteGateway

log = logging.getLogger("quantdesk.runtime")


@dataclass(frozen=True)
class MarketPrep:
    """What opening the store found: its info, yesterday's closes, a demo seeding, an error."""

    info: StoreInfo | None
    closes: dict[str, float]
    seeded: str
    error: str
    empty: bool = False  # the store opened but holds no daily bars (``error`` says what to do)


class MarketData:
    """Store-side work of the services (see the module docstring)."""

    store: Store
    gateway: SimGateway | QuoteGateway
    universe: Universe
    live: LiveRunner
    data: DataConfig
    fetch: FetchConfig
    universes: dict[str, tuple[str, ...]]
    mode: str
    fresh: bool
    calendar: TradingCalendar

    def prepare_market(self) -> MarketPrep:
        """Open the store (seeding demo history into an empty one) and read the last closes.

        Never raises: a store that cannot be used is reported in ``error`` and the
        market opens at reference prices. Blocking (~0.5 s; a first start also writes
        the demo history): run it off the UI thread.
        """
        try:
            info = self.store.open()
            seeded = ""
            if not self.store.symbols("1d"):
                if not (self.fresh and self.mode == "DEMO"):
                    # A store emptied or deleted under a data directory in use is never
                    # refilled with synthetic bars: they would pass for real history.
                    return MarketPrep(
                        info,
                        {},
                        "",
                        f"the store {redact(self.store.uri)} has no daily bars: run `quantdesk "
                        "data sync` (or `quantdesk data demo` for the synthetic demo history); "
                        + (
                            "the market opens at reference prices"
                            if self.mode == "DEMO"
                            else "strategies start without history"
                        ),
                        empty=True,
                    )
                seeded = self._seed_demo_history()
            closes = self.last_closes()
            self.seed_strategies()
        except (StoreError, OSError, ValueError) as exc:
            log.error("market data store unusable (%s): the market opens at reference prices", exc)
            return MarketPrep(None, {}, "", str(exc))
        return MarketPrep(info, closes, seeded, "")

    def seed_strategies(self) -> None:
        """Warm each strategy's window with stored bars, so it can act on the first live bar.

        A replay seeds only with bars that closed before its recording starts (a daily
        strategy: before its day): later stored bars are the future of that session."""
        starts = self.gateway.starts_at()
        for spec in self.live.specs.values():
            end = None
            if starts is not None:
                cut = datetime.combine(starts.date(), time()) if spec.freq == "1d" else starts
                end = cut - timedelta(microseconds=1)
            for symbol in spec.symbols:
                try:
                    bars = self.store.read_bars(symbol, spec.freq, end=end)
                    self.live.seed(symbol, spec.freq, bars)
                except StoreError as exc:
                    log.warning("strategy %s starts cold on %s: %s", spec.id, symbol, exc)

    def evaluate_daily(self) -> None:
        """After the daily sync: daily strategies see the new day's bar."""
        for spec in self.live.specs.values():
            if spec.freq != "1d":
                continue
            for symbol in spec.symbols:
                try:
                    bars = self.store.read_bars(symbol, "1d").tail(1)
                except StoreError:
                    continue
                for at, row in bars.iterrows():
                    self.live.on_bar(symbol, "1d", dict(row), pd.Timestamp(at).to_pydatetime())

    def last_closes(self) -> dict[str, float]:
        """The last stored daily close before the simulated day, per listed instrument."""
        day = self.gateway.trading_day
        closes: dict[str, float] = {}
        for inst in self.universe.instruments:
            if self.store.meta(inst.vt_symbol, "1d") is None:
                continue
            bars = self.store.read_bars(inst.vt_symbol, "1d", end=day - timedelta(days=1))
            if len(bars):
                closes[inst.vt_symbol] = float(bars["close"].iloc[-1])
        return closes

    def _seed_demo_history(self) -> str:
        from services.data.sources.demo import DemoSource

        day = self.gateway.trading_day
        log.info(
            "empty store: writing demo history for the %d listed instruments", len(self.universe)
        )
        source = DemoSource(day, instruments=self.universe.instruments)
        symbols = [i.vt_symbol for i in self.universe.instruments]
        lines = []
        for freq in ("1d", "1m"):
            summary = Syncer(self.store, source, self.data).sync(symbols, freq, end=day)
            lines.append(summary.lines()[0])
        return "; ".join(lines)

    def daily_sync(self, progress: Callable[[int, int, str], None]) -> JobResult:
        """The scheduled job: sync the configured universe's daily bars. The demo's history
        is synthetic, and real bars never mix into it (the sync refuses per symbol): the
        demo syncs from the demo source, whatever [data] source says, so it succeeds."""
        name = "demo" if self.mode == "DEMO" else self.data.source
        source = make_source(name, self.fetch, self.gateway.trading_day, self.data.tushare_url)
        symbols = resolve_universe(self.data.universe, self.universes)
        summary = Syncer(self.store, source, self.data).sync(
            symbols, "1d", progress=lambda n, total, o: progress(n, total, o.vt_symbol)
        )
        self.calendar.refresh()  # the sync may have written a newer exchange calendar
        self.evaluate_daily()
        state: JobStatus = "failed"
        if summary.exit_code == 0:
            state = "ok"
        elif summary.exit_code == 3:
            state = "warning"
        detail = " · ".join(summary.lines()[:3])
        if self.mode == "PAPER":  # what the feed recorded today against the official bars
            compared = compare_recorded(self.store, source, self.gateway.trading_day)
            off = [c for c in compared if not c.clean]
            if compared:
                detail += (
                    f" · recorded vs official minute bars: {len(compared)} symbols, "
                    f"{len(off)} differ (log)"
                )
            if off and state == "ok":
                state = "warning"
        return state, detail
