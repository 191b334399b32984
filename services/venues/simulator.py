"""A seeded, deterministic simulated A-share market (no I/O, no threads).

Every call to :meth:`SimMarket.step` moves one instrument (round robin) by a
Gaussian log-return and advances the simulated clock by ``speed /
ticks_per_second`` seconds. The sequence of quotes depends only on the seed,
the universe and the number of steps, never on wall-clock timing, so tests
and snapshots can replay it exactly. Prices never leave the day's limit band.

The clock follows the exchange sessions (09:30–11:30, 13:00–15:00, weekdays;
holidays are not modelled). Crossing 15:00 rolls to the next weekday's open:
previous closes, limits and volumes reset, and ``day_rolled`` reports it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

from services.instruments import Instrument
from services.settings import ConfigValueError, require
from services.venues.quote import Quote

SESSIONS = ((time(9, 30), time(11, 30)), (time(13, 0), time(15, 0)))
TRADING_SECONDS_PER_YEAR = 252 * 4 * 3600


@dataclass(frozen=True)
class SimConfig:
    """The simulated market ([sim] in config.toml)."""

    seed: int = 7
    """Seed of the price process: the same seed gives the same quotes."""
    speed: float = 1.0
    """Simulated seconds per real second; 60 makes a simulated minute pass each second."""
    ticks_per_second: float = 40.0
    """Quotes generated per real second, across all instruments."""
    volatility: float = 0.35
    """Annualised volatility of every instrument's price."""
    start: str = "2026-11-23T09:30:00"
    """Simulated date and time at start-up (ISO 8601, inside a trading session)."""

    def __post_init__(self) -> None:
        require(0 < self.speed <= 3600, "speed", f"must be in (0, 3600], got {self.speed}")
        require(
            0 < self.ticks_per_second <= 100_000,
            "ticks_per_second",
            f"must be in (0, 100000], got {self.ticks_per_second}",
        )
        require(0 <= self.volatility <= 5, "volatility", "must be between 0 and 5 (500 %)")
        try:
            start = datetime.fromisoformat(self.start)
        except ValueError:
            raise ConfigValueError(
                "start", f"expected an ISO date-time like 2026-11-23T09:30:00, got {self.start!r}"
            ) from None
        require(in_session(start), "start", f"{self.start} is not inside a trading session")

    @property
    def start_at(self) -> datetime:
        return datetime.fromisoformat(self.start)


def in_session(at: datetime) -> bool:
    return at.weekday() < 5 and any(a <= at.time() < b for a, b in SESSIONS)


def next_weekday(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


@dataclass
class _State:
    instrument: Instrument
    fair: float  # unrounded latent price
    prev_close: float
    quote: Quote = field(init=False)


class SimMarket:
    """The price process and session clock of the simulated market."""

    def __init__(self, instruments: tuple[Instrument, ...], config: SimConfig) -> None:
        require(len(instruments) > 0, "instruments", "the simulated market needs one or more")
        self.config = config
        self._rng = random.Random(config.seed)
        self._states = [_State(i, i.ref_price, i.ref_price) for i in instruments]
        self._index = {s.instrument.vt_symbol: s for s in self._states}
        self._clock = config.start_at
        self._step_seconds = config.speed / config.ticks_per_second
        self._sigma_per_step = config.volatility * math.sqrt(
            self._step_seconds * len(instruments) / TRADING_SECONDS_PER_YEAR
        )
        self.steps = 0
        for state in self._states:
            state.quote = self._open_quote(state)

    def set_prev_closes(self, closes: dict[str, float]) -> None:
        """Open today's session from these previous closes (e.g. the store's last daily bars).

        Only before the first step: the price process must not jump mid-session.
        """
        if self.steps:
            raise RuntimeError("previous closes can only be set before the market moves")
        for vt_symbol, close in closes.items():
            state = self._index.get(vt_symbol)
            if state is not None and close > 0:
                state.prev_close = state.instrument.round_price(close)
                state.fair = state.prev_close
                state.quote = self._open_quote(state)

    @property
    def clock(self) -> datetime:
        return self._clock

    @property
    def trading_day(self) -> date:
        return self._clock.date()

    def quote(self, vt_symbol: str) -> Quote:
        return self._index[vt_symbol].quote

    def quotes(self) -> list[Quote]:
        return [s.quote for s in self._states]

    def step(self) -> tuple[Quote, bool]:
        """Move the next instrument; returns its quote and whether a new day began."""
        rolled = self._advance_clock()
        state = self._states[self.steps % len(self._states)]
        self.steps += 1
        inst = state.instrument
        old = state.quote
        state.fair *= math.exp(self._rng.gauss(0.0, self._sigma_per_step))
        down, up = old.limit_down, old.limit_up
        state.fair = min(max(state.fair, down), up)
        last = inst.round_price(state.fair)
        traded = inst.lot * self._rng.randint(1, 40)
        depth_bid = inst.lot * self._rng.randint(5, 200)
        depth_ask = inst.lot * self._rng.randint(5, 200)
        bid = 0.0 if last <= down else inst.round_price(last - inst.tick)
        ask = 0.0 if last >= up else inst.round_price(last + inst.tick)
        if last >= up:
            bid = up
        if last <= down:
            ask = down
        state.quote = replace(
            old,
            at=self._clock,
            last=last,
            high=max(old.high, last),
            low=min(old.low, last),
            bid=bid,
            ask=ask,
            bid_volume=depth_bid if bid else 0,
            ask_volume=depth_ask if ask else 0,
            volume=old.volume + traded,
            turnover=old.turnover + traded * last,
        )
        return state.quote, rolled

    def _advance_clock(self) -> bool:
        nxt = self._clock + timedelta(seconds=self._step_seconds)
        if in_session(nxt):
            self._clock = nxt
            return False
        if nxt.time() < SESSIONS[1][0] and nxt.date() == self._clock.date() and nxt.weekday() < 5:
            self._clock = datetime.combine(nxt.date(), SESSIONS[1][0])  # lunch break skipped
            return False
        self._clock = datetime.combine(next_weekday(self._clock.date()), SESSIONS[0][0])
        for state in self._states:
            state.prev_close = state.quote.last
            state.quote = self._open_quote(state)
        return True

    def _open_quote(self, state: _State) -> Quote:
        inst = state.instrument
        down, up = inst.limits(state.prev_close)
        price = inst.round_price(state.prev_close)
        return Quote(
            vt_symbol=inst.vt_symbol,
            at=self._clock,
            last=price,
            prev_close=state.prev_close,
            open=price,
            high=price,
            low=price,
            bid=inst.round_price(price - inst.tick),
            ask=inst.round_price(price + inst.tick),
            bid_volume=inst.lot * 50,
            ask_volume=inst.lot * 50,
            volume=0,
            turnover=0.0,
            limit_up=up,
            limit_down=down,
        )
