"""The live quote feed as a vnpy gateway, with the paper broker behind it.

Like the simulator, it is a :class:`BaseGateway`: quotes reach the bus as
``TickData`` and orders go to the in-process paper broker, here with the
conservative fill model (services.venues.paper). One thread polls the source
in batches, one request in flight, every ``interval_s`` (with jitter) during
the sessions, for the symbols that matter (``wanted``); it idles outside them.
Failures back off and trip a circuit breaker (services.feed.breaker). Every
change of state is a :class:`FeedStatus` on the bus, and in the log.

The same gateway replays a recording (``replay=``): the recorded responses go
through the same parser at their recorded times, scaled by ``speed``, and the
bus is drained after each poll so that the same recording always gives the
same journal.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from vnpy.trader.object import OrderData, OrderRequest

from services.bus import Bus
from services.events import EVENT_FEED, EVENT_SESSION_ROLLED, FeedStatus, SessionRolled
from services.feed import sina
from services.feed.breaker import Breaker, BreakerConfig
from services.feed.clock import ReplayClock, WallClock
from services.feed.config import FeedConfig
from services.feed.sessions import TradingCalendar, next_poll_after, phase
from services.feed.source import HttpSource, RawPoll, Recorder, read_recording
from services.instruments import Instrument, Universe
from services.venues.paper import Conditions, PaperBroker
from services.venues.paper_venue import PaperVenue, to_tick
from services.venues.quote import Quote

log = logging.getLogger("quantdesk.feed")

MAX_IDLE_SLEEP_S = 30.0  # an idle feed still wakes this often (to notice a date change)


class QuoteGateway(PaperVenue):
    """Real quotes (polled or replayed) and paper fills on them."""

    default_name = "PAPER"

    def __init__(
        self,
        bus: Bus,
        universe: Universe,
        broker: PaperBroker,
        config: FeedConfig,
        calendar: TradingCalendar,
        *,
        replay: Path | None = None,
        speed: float = 1.0,
        record_dir: Path | None = None,
        last_day: date | None = None,
        gateway_name: str = "PAPER",
    ) -> None:
        super().__init__(bus, gateway_name)
        self.bus = bus
        self.universe = universe
        self.broker = broker
        self.config = config
        self.calendar = calendar
        self.replay = replay
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.clock: WallClock | ReplayClock = (
            ReplayClock(self._stop, speed) if replay else WallClock(self._stop)
        )
        self.source_name = f"replay {replay.name}" if replay else config.source
        self.breaker = Breaker(
            BreakerConfig(trip_after=config.trip_after, cooldown_s=config.cooldown_s)
        )
        self.record_dir = record_dir  # live only: every poll to <dir>/<day>.jsonl.gz
        self.recorder: Recorder | None = None
        self.wanted: Callable[[], Iterable[str]] = lambda: [
            i.vt_symbol for i in universe.instruments
        ]
        self.quotes: dict[str, Quote] = {}
        self.status = FeedStatus(self.source_name, "starting", "not polled yet")
        self.polls = 0
        self.finished = threading.Event()  # a replay reached the end of its recording
        self._day = last_day
        self._reported: set[str] = set()
        self._primed = False  # the start-up snapshot was taken
        self._by_vt: dict[str, Instrument] = {i.vt_symbol: i for i in universe.instruments}
        self._rng = random.Random(7)

    def list_instrument(self, inst: Instrument) -> None:
        """Quote (and trade) one more instrument, added to the universe by the caller."""
        self._by_vt[inst.vt_symbol] = inst
        self.publish_contracts(Universe((inst,)))

    # -- the venue ------------------------------------------------------------------------
    @property
    def trading_day(self) -> date:
        return self.clock.now().date()

    def starts_at(self) -> datetime | None:
        """A replay: the exchange time of its first poll (stored bars from then on are
        the session's future); None when live."""
        if self.replay is None:
            return None
        first = next(iter(read_recording(self.replay)), None)
        return first.time if first is not None else None

    def set_prev_closes(self, closes: dict[str, float]) -> None:
        """Real quotes carry their own previous close: nothing to set."""

    def connect(self, setting: dict[str, Any]) -> None:
        self.publish_contracts(self.universe)
        self.query_account()
        if self.record_dir is not None and self.replay is None:
            path = self.record_dir / f"{self.clock.now():%Y-%m-%d}.jsonl.gz"
            self.recorder = Recorder(path)
            log.info("recording every poll to %s", path)
        self._stop.clear()
        target = self._run_replay if self.replay else self._run_live
        self._thread = threading.Thread(target=target, name="quote-feed", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self.recorder is not None:
            self.recorder.close()

    def subscribe(self, req: Any) -> None:
        """Symbols are polled when they matter (``wanted``); nothing to do."""

    def send_order(self, req: OrderRequest) -> str:
        with self._lock:
            quote = self.quotes.get(req.vt_symbol)
            now = self.clock.now()
            if quote is None:
                updates: list[Any] = [
                    self.broker.reject(req, now, f"no quote for {req.vt_symbol} yet")
                ]
            else:
                updates = self.broker.submit(req, quote, now, self.conditions(quote, now))
        self._publish(updates)
        order = updates[0]
        assert isinstance(order, OrderData)
        return str(order.vt_orderid)

    def conditions(self, quote: Quote, now: datetime) -> Conditions:
        """Matching and staleness for a quote at exchange time ``now``."""
        return Conditions(
            matching=phase(now, self.calendar).matches,
            stale=(now - quote.at).total_seconds() > self.config.stale_s,
        )

    # -- polling ----------------------------------------------------------------------------
    def _run_live(self) -> None:
        source = HttpSource(self.config.url, self.config.timeout_s)
        seen: set[str] = set()
        try:
            while not self._stop.is_set():
                try:
                    wait = self.poll_once(source)
                except Exception as exc:  # a bug: say so, back off, keep the feed alive
                    what = f"{type(exc).__name__}: {exc}"
                    if what not in seen:  # the traceback once per kind, not every poll
                        seen.add(what)
                        log.exception("quote feed: internal error; it backs off and retries")
                    self.breaker.failure(time.monotonic(), f"internal error ({what})")
                    self._set_status("error", f"internal error, retrying: {what} (log)")
                    wait = self.breaker.wait_s(time.monotonic())
                self.clock.sleep(wait)
        finally:
            source.close()

    def poll_once(self, source: HttpSource) -> float:
        """One cycle: idle, wait out a backoff, or poll every wanted symbol. Returns the
        seconds to wait before the next cycle."""
        now = self.clock.now()
        current = phase(now, self.calendar)
        if not current.polls and not self._primed:
            self._primed = True  # one snapshot at start: the last prices, shown as stale
            self._poll_all(source, now)
        if not current.polls:
            nxt = next_poll_after(now, self.calendar)
            when = f"{nxt:%H:%M}" if nxt.date() == now.date() else f"{nxt:%a %m-%d %H:%M}"
            self._set_status("idle", f"{current.name} until {when}")
            return min(MAX_IDLE_SLEEP_S, max(1.0, (nxt - now).total_seconds()))
        mono = time.monotonic()
        if not self.breaker.ready(mono):
            wait = self.breaker.wait_s(mono)
            state = "circuit open" if self.breaker.is_open(mono) else "backoff"
            self._set_status(state, f"{self.breaker.last_error}; next try in {wait:.0f} s")
            return min(wait, MAX_IDLE_SLEEP_S)
        self._primed = True
        if not self._poll_all(source, now):
            self._set_status("idle", "no symbols to watch (watchlist, positions, orders)")
        return self.config.interval_s * (0.9 + 0.2 * self._rng.random())

    def _poll_all(self, source: HttpSource, now: datetime) -> bool:
        """Every wanted symbol, in batches, one request at a time; False with none wanted."""
        symbols = sorted(s for s in set(self.wanted()) if s in self._by_vt)
        for start in range(0, len(symbols), sina.MAX_CODES):
            raw = source.fetch(symbols[start : start + sina.MAX_CODES], now)
            if not self.handle(raw):
                break  # one request in flight, and none after a failure
        return bool(symbols)

    def _run_replay(self) -> None:
        assert self.replay is not None and isinstance(self.clock, ReplayClock)
        count = 0
        try:
            for raw in read_recording(self.replay):
                if not self.clock.advance_to(raw.time):
                    return
                self.handle(raw)
                count += 1
                self._settle()
        except Exception as exc:
            log.exception("replay of %s failed", self.replay)
            self._set_status("error", f"replay stopped: {exc}")
            return
        self._set_status("finished", f"replayed {count} polls; the account stays open")
        self.finished.set()

    def _settle(self) -> None:
        """Wait until every reaction to this poll (proposals, orders, fills, and what those
        set off) has been handled, before the replay clock moves on."""
        for _ in range(100):
            self.bus.wait_idle(30)
            if self.bus.depth == 0:
                return

    def handle(self, raw: RawPoll) -> bool:
        """Apply one poll (live or replayed); False when it failed."""
        if self.recorder is not None:
            self.recorder.write(raw)
        self.polls += 1
        problem = raw.problem()
        parsed = None
        if not problem:
            try:
                parsed = sina.parse(raw.body, self._by_vt)
            except sina.FeedFormatError as exc:
                problem = f"unreadable response ({exc})"
        if parsed is None:
            self.breaker.failure(time.monotonic(), problem, ban=raw.ban)
            state = "circuit open" if self.breaker.is_open(time.monotonic()) else "error"
            self._set_status(state, problem, symbols=len(raw.symbols))
            return False
        self.breaker.success()
        self._apply(parsed, raw)
        return True

    def _apply(self, parsed: sina.Parsed, raw: RawPoll) -> None:
        for vt_symbol in parsed.unknown:
            self._report_once(vt_symbol, f"{vt_symbol}: the source does not know this code")
        for vt_symbol, status in parsed.halted:
            self._report_once(vt_symbol, f"{vt_symbol}: not trading today (status {status})")
        now = self.clock.now()
        self._roll_if_new_day(now, parsed.quotes)
        newest = self.status.newest
        for quote in parsed.quotes:
            inst = self._by_vt[quote.vt_symbol]
            with self._lock:
                self.quotes[quote.vt_symbol] = quote
                updates = self.broker.on_quote(quote, self.conditions(quote, now))
            self.on_tick(to_tick(quote, inst, self.gateway_name))
            self._publish(updates)
            if newest is None or quote.at > newest:
                newest = quote.at
        detail = phase(now, self.calendar).name
        if self.recorder is not None and self.recorder.failed:
            detail += " · RECORDING STOPPED (log)"
        self._set_status("ok", detail, newest, len(raw.symbols))

    def _roll_if_new_day(self, now: datetime, quotes: tuple[Quote, ...]) -> None:
        day = now.date()
        if self._day is None:
            self._day = day
            return
        if day <= self._day:
            return
        closes = {q.vt_symbol: q.prev_close for q in quotes if q.prev_close}
        with self._lock:
            updates = self.broker.roll_day(closes)
        self._day = day
        self.bus.publish(EVENT_SESSION_ROLLED, SessionRolled(day, closes))
        self._publish(updates)

    def _report_once(self, vt_symbol: str, message: str) -> None:
        """Log ``message`` the first time ``vt_symbol`` has it (the log pane shows it)."""
        if vt_symbol not in self._reported:
            self._reported.add(vt_symbol)
            log.warning("%s", message)

    def _set_status(
        self,
        state: str,
        detail: str,
        newest: datetime | None = None,
        symbols: int | None = None,
    ) -> None:
        status = FeedStatus(
            self.source_name,
            state,
            detail,
            newest or self.status.newest,
            self.breaker.total_failures,
            self.status.symbols if symbols is None else symbols,
        )
        if (status.state, status.detail) != (self.status.state, self.status.detail):
            level = logging.INFO if state in ("ok", "idle", "finished") else logging.WARNING
            log.log(level, "feed %s: %s", state, detail)
        self.status = status
        self.bus.publish(EVENT_FEED, status)


def feed_line(status: FeedStatus, now: datetime, stale_s: float) -> tuple[str, bool]:
    """The header's words for the feed, and whether they are a warning."""
    src = status.source
    errors = f" · {status.errors} err" if status.errors else ""
    if status.state == "ok":
        age = (now - status.newest).total_seconds() if status.newest else float("inf")
        if age > stale_s:
            return f"{src} STALE {age:.0f} s{errors}", True
        phase_ = "" if status.detail == "continuous" else f" · {status.detail}"  # an auction
        warn = "STOPPED" in status.detail  # the recording stopped (a full disk)
        return f"{src} {max(0.0, age):.0f} s{phase_}{errors}", warn
    if status.state == "idle":
        return f"{src} idle: {status.detail}", False
    if status.state == "finished":
        return f"{src}: finished", False
    return f"{src} {status.state.upper()}: {status.detail}{errors}", True
