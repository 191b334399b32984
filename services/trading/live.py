"""Strategies running live: bars from ticks, the strategy function over the rolling
window, an order proposal from the last row.

The same function as the backtest (``strategies/``) sees the bars up to the one
that just closed; an entry on the last row while flat proposes a buy, an exit
while holding proposes a sell of what is sellable. A proposal goes to the review
queue, or straight to the order path when the strategy is auto-approved -- both
end in ``OrderService.submit``, the single order path with every risk rule.
What the runner needs from the rest (positions, where proposals go) is
injected, so a test can replay history bar by bar against a venue that fills at
the next bar's open and compare the trades with the backtest's.
"""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from vnpy.event import Event
from vnpy.trader.object import TickData

from services.events import OrderIntent
from strategies import get

log = logging.getLogger("quantdesk.live")
MAX_BARS = 600  # per symbol: the window a strategy sees (moving averages need far fewer)
KEEP_BARS = 20_000  # per symbol: bars kept for the live-versus-backtest comparison
FIELDS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class StrategySpec:
    """One ``[[strategies]]`` entry of config.toml."""

    id: str
    strategy: str
    symbols: tuple[str, ...]
    params: Mapping[str, float] = field(default_factory=dict)
    freq: str = "1m"
    size: float = 100  # shares per entry, or the fraction of equity with sizing "percent"
    sizing: str = "shares"  # "shares" or "percent" (of equity, rounded down to lots)
    auto_approve: bool = False
    enabled: bool = True  # running from the start
    stop_loss: float = 0.0  # fractions under/over the entry price; 0 = off
    take_profit: float = 0.0
    trailing_stop: float = 0.0

    def check(self) -> None:
        """ValueError naming what is wrong (unknown strategy or parameter, bad size)."""
        get(self.strategy).params(self.params)
        if self.freq not in ("1m", "1d"):
            raise ValueError(f"freq must be 1m or 1d, got {self.freq!r}")
        if self.sizing not in ("shares", "percent"):
            raise ValueError(f"sizing must be shares or percent, got {self.sizing!r}")
        if self.size <= 0:
            raise ValueError(f"size must be positive, got {self.size}")
        if self.sizing == "percent" and self.size > 1:
            raise ValueError(
                f"a percent size is a fraction of equity (0.1 = 10 %), got {self.size}"
            )
        if self.sizing == "shares" and int(self.size) != self.size:
            raise ValueError(f"size in shares must be a whole number, got {self.size}")
        for name in ("stop_loss", "take_profit", "trailing_stop"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be a fraction between 0 and 1 (0 = off)")
        if not self.symbols:
            raise ValueError("symbols: name at least one")


@dataclass(frozen=True)
class Proposal:
    """An order a strategy wants, with the reason in words, waiting for review or sent."""

    intent: OrderIntent
    strategy_id: str
    reason: str
    ref_price: float  # the price when proposed (staleness is measured from it)
    bar_time: datetime
    proposed_at: float = field(default_factory=time.monotonic)
    restored: bool = False  # pending when the process stopped: stale until edited


Position = Callable[[str], tuple[int, int]]  # vt_symbol -> (qty, sellable)
Price = Callable[[str, str], float]  # vt_symbol, side -> the touch to price a limit order at


@dataclass
class Proposed:
    strategy_id: str
    vt_symbol: str
    side: str
    bar_time: datetime
    outcome: str = ""  # "" while awaiting review


class BarBuilder:
    """One-minute bars from ticks: a bar closes when the first tick of a later minute arrives.

    A tick's volume is the day's running total. A bar's volume is what traded since the
    last tick of the bar before it (the first tick of a minute carries trades made since
    the previous snapshot); the day's first bar starts from its own first tick, since
    what traded before it is not known to have been in that minute."""

    def __init__(self, on_bar: Callable[[str, dict[str, float], datetime], None]) -> None:
        self.on_bar = on_bar
        self._bars: dict[str, tuple[datetime, dict[str, float], float]] = {}
        self._last: dict[str, tuple[int, float]] = {}  # (day, running volume) of the last tick

    def on_tick(self, tick: TickData) -> None:
        minute = tick.datetime.replace(second=0, microsecond=0)
        price, volume = tick.last_price, float(tick.volume)
        day = tick.datetime.toordinal()
        last_day, last_volume = self._last.get(tick.vt_symbol, (-1, volume))
        self._last[tick.vt_symbol] = (day, volume)
        current = self._bars.get(tick.vt_symbol)
        if current is not None and minute > current[0]:
            self.on_bar(tick.vt_symbol, current[1], current[0])
            current = None
        if current is None:
            base = last_volume if last_day == day and last_volume <= volume else volume
            bar = {
                "open": price,
                "high": price,
                "low": price,
                "close": price,
                "volume": volume - base,
            }
            self._bars[tick.vt_symbol] = (minute, bar, base)
            return
        _start, bar, day_volume = current
        bar["high"] = max(bar["high"], price)
        bar["low"] = min(bar["low"], price)
        bar["close"] = price
        bar["volume"] = max(0.0, volume - day_volume)  # tick volume is the day's running total


class LiveRunner:
    """Runs the configured strategies on closed bars; proposes orders."""

    def __init__(
        self,
        specs: list[StrategySpec],
        position: Position,
        price: Price,
        propose: Callable[[Proposal, bool], None],
        entry_price: Callable[[str], float] = lambda vt_symbol: 0.0,
        equity: Callable[[], float] = lambda: 0.0,
        lot: Callable[[str], int] = lambda vt_symbol: 100,
        working_buys: Callable[[str], int] = lambda vt_symbol: 0,
    ) -> None:
        for spec in specs:
            spec.check()
        self.specs = {s.id: s for s in specs}
        # Proposal stamps and id suffixes (unique across restarts); a replay sets both to
        # the recording's clock and a constant, so the same recording gives the same ids.
        self.clock: Callable[[], datetime] = datetime.now
        self.unique: Callable[[], str] = lambda: uuid.uuid4().hex[:6]
        self.running = {s.id for s in specs if s.enabled}
        # told of every start and stop (running ids, why), so the screen never guesses
        self.on_changed: Callable[[frozenset[str], str], None] = lambda running, why: None
        self._last_bar = datetime.min
        self.position = position
        self.price = price
        self.propose = propose  # (proposal, auto_approve)
        self.entry_price = entry_price  # average cost of the position, for the stops
        self.equity = equity  # for percent sizing
        self.lot = lot
        self.working_buys = working_buys  # shares of working buys: an entry under way
        self._peaks: dict[tuple[str, str], float] = {}  # highest high since entry
        self._bars: dict[tuple[str, str], _Window] = {}
        self._pending: set[tuple[str, str, str]] = set()  # (strategy, symbol, side) awaiting
        self._ids = itertools.count(1)
        self.builder = BarBuilder(lambda symbol, bar, at: self.on_bar(symbol, "1m", bar, at))
        self.proposals = 0
        self.history: list[Proposed] = []  # what was proposed, on which bar, what became of it
        self.live_since: dict[tuple[str, str], datetime] = {}  # first bar seen live
        self.run_log: list[tuple[datetime, str, bool]] = []  # (bar time, strategy, running)
        # why a signal on a bar did not become a proposal: (strategy, symbol, bar) → words
        self.skipped: dict[tuple[str, str, datetime], str] = {}

    # -- control -------------------------------------------------------------------------
    def start(self, strategy_id: str) -> None:
        if strategy_id not in self.specs:
            raise ValueError(f"no strategy {strategy_id!r} in [[strategies]]")
        self.running.add(strategy_id)
        self.run_log.append((self._last_bar, strategy_id, True))
        log.info("strategy %s started", strategy_id)
        self.on_changed(frozenset(self.running), f"{strategy_id} started")

    def stop(self, strategy_id: str) -> None:
        self.running.discard(strategy_id)
        self.run_log.append((self._last_bar, strategy_id, False))
        log.info("strategy %s stopped", strategy_id)
        self.on_changed(frozenset(self.running), f"{strategy_id} stopped")

    def stopped_note(self) -> str:
        """After a re-arm: which strategies stay stopped until the trader starts them."""
        stopped = sorted(set(self.specs) - self.running)
        if not stopped:
            return ""
        return (
            f"Strategies stay stopped until you start them ({', '.join(stopped)}: "
            "s in the strategies pane)."
        )

    def stop_all(self, reason: str) -> list[str]:
        stopped, self.running = sorted(self.running), set()
        self.run_log += [(self._last_bar, s, False) for s in stopped]
        if stopped:
            log.warning("strategies stopped (%s): %s", reason, ", ".join(stopped))
        self.on_changed(frozenset(), reason)
        return stopped

    def settled(self, strategy_id: str, vt_symbol: str, side: str, outcome: str = "") -> None:
        """The proposal for (strategy, symbol, side) left the queue (sent, rejected, expired)."""
        self._pending.discard((strategy_id, vt_symbol, side))
        for entry in reversed(self.history):
            if (entry.strategy_id, entry.vt_symbol, entry.side) == (strategy_id, vt_symbol, side):
                if not entry.outcome:
                    entry.outcome = outcome or "settled"
                break

    def _entry_size(self, spec: StrategySpec, vt_symbol: str) -> int:
        if spec.sizing == "shares":
            return int(spec.size)
        price, lot = self.price(vt_symbol, "buy"), self.lot(vt_symbol)
        if price <= 0:
            return 0
        return int(spec.size * self.equity() / price / lot) * lot

    def _stop_hit(self, spec: StrategySpec, vt_symbol: str, window: _Window, qty: int) -> str:
        """A stop-loss, take-profit or trailing stop hit on the bar that just closed, in words."""
        key = (spec.id, vt_symbol)
        if qty <= 0:
            self._peaks.pop(key, None)
            return ""
        entry = self.entry_price(vt_symbol)
        if entry <= 0 or not (spec.stop_loss or spec.take_profit or spec.trailing_stop):
            return ""
        high, low = window.columns["high"][-1], window.columns["low"][-1]
        peak = self._peaks.get(key, entry)  # the highest high up to the previous bar
        self._peaks[key] = max(peak, high)
        if spec.stop_loss and low <= entry * (1 - spec.stop_loss):
            level = entry * (1 - spec.stop_loss)
            return _stop_text("stop-loss", "low", low, level, spec.stop_loss, "under the entry")
        if spec.trailing_stop and low <= peak * (1 - spec.trailing_stop):
            level = peak * (1 - spec.trailing_stop)
            return _stop_text(
                "trailing stop", "low", low, level, spec.trailing_stop, "under the peak"
            )
        if spec.take_profit and high >= entry * (1 + spec.take_profit):
            level = entry * (1 + spec.take_profit)
            return _stop_text(
                "take-profit", "high", high, level, spec.take_profit, "over the entry"
            )
        return ""

    # -- data ------------------------------------------------------------------------------
    def seed(self, vt_symbol: str, freq: str, bars: pd.DataFrame) -> None:
        """Stored history before the live bars, so the window is warm from the start."""
        window = self._bars[(vt_symbol, freq)] = _Window()
        values = bars[list(FIELDS)].to_numpy()[-MAX_BARS:]
        for at, row in zip(bars.index[-MAX_BARS:], values, strict=True):
            window.append(pd.Timestamp(at).to_pydatetime(), dict(zip(FIELDS, row, strict=True)))

    def on_tick(self, event: Event) -> None:
        if event.data.last_price > 0:  # a real quote before the day's first trade has none
            self.builder.on_tick(event.data)

    def window(self, vt_symbol: str, freq: str) -> _Window | None:
        """The bars kept for ``vt_symbol`` at ``freq`` (seeded and live), if any."""
        return self._bars.get((vt_symbol, freq))

    def on_bar(self, vt_symbol: str, freq: str, bar: dict[str, float], at: datetime) -> None:
        """A bar closed: append it and run every running strategy on this symbol."""
        window = self._bars.setdefault((vt_symbol, freq), _Window())
        if window.times and at <= window.times[-1]:
            return  # a bar we already have (seeded from the store)
        window.append(at, bar)
        self.live_since.setdefault((vt_symbol, freq), at)
        self._last_bar = at
        for spec in self.specs.values():
            if spec.id in self.running and spec.freq == freq and vt_symbol in spec.symbols:
                self._evaluate(spec, vt_symbol, window)

    def _evaluate(self, spec: StrategySpec, vt_symbol: str, window: _Window) -> None:
        strategy = get(spec.strategy)
        signals = strategy.run(window.frame(), spec.params)
        qty, sellable = self.position(vt_symbol)
        buying = self.working_buys(vt_symbol)  # an approved buy still working counts as held
        at = window.times[-1]
        side, why = "", ""
        stop = self._stop_hit(spec, vt_symbol, window, qty)
        entry, exit_ = bool(signals.entries.iloc[-1]), bool(signals.exits.iloc[-1])
        if stop and sellable > 0:
            side, size, why = "sell", sellable, stop
        elif entry and qty == 0 and buying == 0:
            side, size = "buy", self._entry_size(spec, vt_symbol)
        elif exit_ and sellable > 0:
            side, size = "sell", sellable
        skip = ""
        if entry and qty == 0 and buying and not side:
            skip = f"a buy of {buying} shares is still working (approved, not yet filled)"
        elif entry and qty != 0 and not side:
            skip = self._held_words(spec.id, vt_symbol, qty)
        elif exit_ and sellable <= 0 and not side:
            skip = self._nothing_to_sell_words(spec.id, vt_symbol, qty)
        elif side and size <= 0:
            skip = f"the {side} size came to 0 shares (equity or price too small for a lot)"
        elif side and (spec.id, vt_symbol, side) in self._pending:
            skip = f"its previous {side} proposal was still awaiting review"
        if skip:
            self.skipped[(spec.id, vt_symbol, at)] = skip
            return
        if not side:
            return
        price = self.price(vt_symbol, side)
        params = strategy.params(spec.params)
        words = why or strategy.describe(params, side)
        reason = f"{words} at {at:%H:%M}" if spec.freq == "1m" else f"{words} on {at:%Y-%m-%d}"
        intent = OrderIntent(
            f"{spec.id}-{next(self._ids)}-{self.unique()}",
            vt_symbol,
            side,  # type: ignore[arg-type]
            "limit",
            int(size),
            price,
            source=f"strategy:{spec.id}",
            created_at=self.clock(),
        )
        self._pending.add((spec.id, vt_symbol, side))
        self.proposals += 1
        self.history.append(Proposed(spec.id, vt_symbol, side, at))
        log.info(
            "%s proposes %s %d %s @ %s: %s", spec.id, side.upper(), size, vt_symbol, price, reason
        )
        self.propose(Proposal(intent, spec.id, reason, price, at), spec.auto_approve)

    def _last_own(self, strategy_id: str, vt_symbol: str, side: str) -> Proposed | None:
        for p in reversed(self.history):
            if (p.strategy_id, p.vt_symbol, p.side) == (strategy_id, vt_symbol, side):
                return p
        return None

    def _held_words(self, strategy_id: str, vt_symbol: str, qty: int) -> str:
        """Why an entry signal found the account not flat, as far as the runner knows."""
        buy = self._last_own(strategy_id, vt_symbol, "buy")
        sell = self._last_own(strategy_id, vt_symbol, "sell")
        if buy is None or "sent" not in buy.outcome:
            return (
                f"the account held {qty} shares that this strategy did not buy "
                "(a manual trade or another strategy's)"
            )
        if sell is not None and sell.bar_time > buy.bar_time and "sent" not in sell.outcome:
            return f"its sell of {sell.bar_time:%Y-%m-%d %H:%M} was {sell.outcome or 'pending'}"
        return (
            f"the account still held {qty} shares (its own buy; the sell did not fill as assumed)"
        )

    def _nothing_to_sell_words(self, strategy_id: str, vt_symbol: str, qty: int) -> str:
        """Why an exit signal found nothing to sell, as far as the runner knows."""
        if qty > 0:
            return f"{qty} shares held, none sellable yet (T+1, or held by working sells)"
        buy = self._last_own(strategy_id, vt_symbol, "buy")
        if buy is not None and "sent" not in buy.outcome:
            return f"its buy of {buy.bar_time:%Y-%m-%d %H:%M} was {buy.outcome or 'pending'}"
        if buy is None:
            return "no shares held: this strategy had not bought live (it started holding none)"
        return "no shares held: unknown why (sold outside this strategy, or the buy did not fill)"


def _stop_text(kind: str, bound: str, price: float, level: float, pct: float, ref: str) -> str:
    return f"{kind}: {bound} {price:g} reached {level:.3f} ({pct:.0%} {ref})"


class _Window:
    """Bars of one symbol, column-wise (cheap to turn into a frame): the strategy sees the
    last ``MAX_BARS``; up to ``KEEP_BARS`` are kept for the comparison with the backtest."""

    def __init__(self) -> None:
        self.times: list[datetime] = []
        self.columns: dict[str, list[float]] = {f: [] for f in FIELDS}

    def append(self, at: datetime, bar: Mapping[str, float]) -> None:
        self.times.append(at)
        for name, values in self.columns.items():
            values.append(float(bar.get(name, 0.0)))
        if len(self.times) > KEEP_BARS * 2:  # trim in batches, not on every bar
            del self.times[:-KEEP_BARS]
            for values in self.columns.values():
                del values[:-KEEP_BARS]

    def frame(self, last: int = MAX_BARS) -> pd.DataFrame:
        """The last ``last`` bars (the strategy's window; 0 for every bar kept)."""
        n = min(len(self.times), last or len(self.times))
        return pd.DataFrame(
            {k: v[-n:] for k, v in self.columns.items()}, index=pd.DatetimeIndex(self.times[-n:])
        )


def proposal_from_journal(payload: Mapping[str, Any]) -> Proposal:
    """A journaled proposal (``proposed`` entry) back as a Proposal, marked restored."""
    i = payload["intent"]
    intent = OrderIntent(
        i["intent_id"],
        i["vt_symbol"],
        i["side"],
        i["kind"],
        int(i["qty"]),
        i["price"],
        source=i.get("source", "strategy"),
    )
    return Proposal(
        intent,
        str(payload["strategy"]),
        str(payload["reason"]),
        float(payload["ref_price"]),
        datetime.fromisoformat(str(payload["bar_time"])),
        restored=True,
    )


def compare_with_backtest(
    runner: LiveRunner, strategy_id: str, vt_symbol: str
) -> list[dict[str, str]]:
    """The same strategy as a backtest on the bars the runner saw live, against what it did.

    One row per bar where either acted: what the backtest would do (entry while flat,
    exit while holding shares bought before today (T+1), fills assumed), what the live
    runner proposed and what became of it, and why they differ when they do.
    """
    spec = runner.specs[strategy_id]
    window = runner.window(vt_symbol, spec.freq)
    since = runner.live_since.get((vt_symbol, spec.freq))
    if window is None or since is None:
        return []
    frame = window.frame(0)
    signals = get(spec.strategy).run(frame, spec.params)
    expected: dict[datetime, str] = {}
    bought = None  # the day of the open entry (T+1: no exit that day)
    for at, entry, exit_ in zip(frame.index, signals.entries, signals.exits, strict=True):
        if at < since:
            continue
        if entry and bought is None:
            expected[at.to_pydatetime()] = "buy"
            bought = at.date()
        elif exit_ and bought is not None and at.date() > bought:
            expected[at.to_pydatetime()] = "sell"
            bought = None
    live = {
        p.bar_time: p
        for p in runner.history
        if p.strategy_id == strategy_id and p.vt_symbol == vt_symbol
    }
    rows = []
    for at in sorted(set(expected) | set(live)):
        want, got = expected.get(at, ""), live.get(at)
        if got is not None and want == got.side:
            why = "" if "sent" in got.outcome or not got.outcome else got.outcome
        elif got is None:
            if not _running_at(runner, strategy_id, at):
                why = "the strategy was stopped"
            else:
                why = runner.skipped.get(
                    (strategy_id, vt_symbol, at),
                    "unknown: the live runner saw no signal on this bar",
                )
        else:
            why = "the live position differed from the backtest's"
        rows.append(
            {
                "bar": at.isoformat(sep=" ", timespec="minutes"),
                "backtest": want or "-",
                "live": got.side if got else "-",
                "outcome": (got.outcome or "awaiting review") if got else "-",
                "difference": why,
            }
        )
    return rows


def _running_at(runner: LiveRunner, strategy_id: str, at: datetime) -> bool:
    state = runner.specs[strategy_id].enabled
    for when, sid, running in runner.run_log:
        if sid == strategy_id and when <= at:
            state = running
    return state
