"""Sync history from a source into the store: incremental, per-symbol, resumable.

Each symbol is fetched from the day after its last stored bar (minute bars:
from that bar's day; rows already stored are recognised as unchanged) and
written atomically (each symbol's rows in one version), so an interrupted sync
resumes without duplicates. Writes go to the store in batches of up to
``WRITE_ROWS`` rows, and at least every ``FLUSH_SECONDS`` while fetching (so
progress moves with a slow source): one metadata read, one batched write, and
one append of the day's rows to the daily panel block. A daily sync's new days
(1,000 symbols, one row each) are thus one batch. A symbol whose range holds no
trading day is not requested. A failure is reported for its symbol and the
others go on. After the run, a named ArcticDB snapshot pins exactly what the
store held.
"""

from __future__ import annotations

import logging
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from services.data.actions import Actions
from services.data.bars import FREQS
from services.data.records import Incoming, SymbolMeta, WriteResult
from services.data.sources.base import Source, SourceError
from services.data.symbols import check_symbol
from services.instruments import DEFAULT_UNIVERSE
from services.settings import require
from services.store import Store

log = logging.getLogger("quantdesk.data")

EXIT_OK, EXIT_QUARANTINED, EXIT_FAILED = 0, 3, 4
WRITE_ROWS = 500_000  # rows per batched store write: memory stays small (~30 MB)
FLUSH_SECONDS = 2.0  # fetched rows wait no longer than this for their write and progress
OFFLINE_STREAK = 3  # symbols in a row that cannot connect: stop, the network is down


@dataclass(frozen=True)
class DataConfig:
    """Market-data defaults ([data] in config.toml)."""

    source: str = "akshare"
    """Where `data sync` downloads from: akshare, tushare, yfinance (optional) or demo."""
    universe: str = "demo"
    """What the scheduled sync downloads: demo, a name from [universes], or codes."""
    history_start: str = "2016-01-01"
    """First day of daily history when a symbol is synced for the first time."""
    minute_days: int = 5
    """Days of minute history fetched the first time (AkShare keeps about 5)."""
    tushare_url: str = "http://api.tushare.pro"
    """Tushare Pro's API endpoint (its token comes from `quantdesk secrets set tushare`)."""

    def __post_init__(self) -> None:
        require(
            self.source in ("akshare", "tushare", "yfinance", "demo"),
            "source",
            "must be akshare, tushare, yfinance (optional extra) or demo",
        )
        require(
            self.tushare_url.startswith(("http://", "https://")),
            "tushare_url",
            "must be an http(s) URL",
        )
        try:
            date.fromisoformat(self.history_start)
        except ValueError:
            require(
                False,
                "history_start",
                f"expected a date like 2016-01-01, got {self.history_start!r}",
            )
        require(1 <= self.minute_days <= 60, "minute_days", "must be 1-60")


@dataclass
class SymbolOutcome:
    vt_symbol: str
    stored: int = 0
    unchanged: int = 0
    quarantined: int = 0
    rules: dict[str, int] = field(default_factory=dict)
    error: str = ""
    skipped: str = ""
    offline: bool = False
    no_actions: str = ""  # why the dividends were not fetched (the bars were)


@dataclass
class SyncSummary:
    freq: str
    outcomes: list[SymbolOutcome]
    snapshot: str = ""
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)  # failures beyond single symbols

    @property
    def stored(self) -> int:
        return sum(o.stored for o in self.outcomes)

    @property
    def failed(self) -> list[SymbolOutcome]:
        return [o for o in self.outcomes if o.error]

    @property
    def quarantined(self) -> int:
        return sum(o.quarantined for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        if self.failed or self.problems:
            return EXIT_FAILED
        return EXIT_QUARANTINED if self.quarantined else EXIT_OK

    def lines(self) -> list[str]:
        rules: dict[str, int] = {}
        for o in self.outcomes:
            for rule, n in o.rules.items():
                rules[rule] = rules.get(rule, 0) + n
        text = [
            f"{self.freq}: {len(self.outcomes)} symbols, {self.stored} rows stored, "
            f"{sum(o.unchanged for o in self.outcomes)} already stored, "
            f"{self.quarantined} quarantined, {len(self.failed)} failed "
            f"in {self.seconds:.1f} s"
        ]
        text += [f"FAILED {problem}" for problem in self.problems]
        if rules:
            text.append(
                "quarantined by rule: " + ", ".join(f"{r} {n}" for r, n in sorted(rules.items()))
            )
        skipped = [o.vt_symbol for o in self.failed if o.error.startswith("not attempted")]
        text += [
            f"FAILED {o.vt_symbol}: {o.error}"
            for o in self.failed
            if not o.error.startswith("not attempted")
        ]
        if skipped:
            text.append(
                f"FAILED {len(skipped)} symbols not attempted (network down): "
                + ", ".join(skipped[:5])
                + (", ..." if len(skipped) > 5 else "")
            )
        missing = [o for o in self.outcomes if o.no_actions]
        if missing:
            text.append(
                f"dividends not fetched for {len(missing)} symbols "
                f"({missing[0].vt_symbol}: {missing[0].no_actions}); their bars are stored, "
                "point-in-time backtests of them are refused until a sync fetches them"
            )
        text += self.notes
        if self.snapshot:
            text.append(f"snapshot {self.snapshot}")
        return text


Progress = Callable[[int, int, SymbolOutcome], None]


def resolve_universe(text: str, named: Mapping[str, Sequence[str]] | None = None) -> list[str]:
    """``demo``, a name from ``[universes]``, or comma-separated codes
    (``600519`` → 600519.SSE, ``000001`` → 000001.SZSE, ``AAPL.US``)."""
    if text.strip() == "demo":
        return [i.vt_symbol for i in DEFAULT_UNIVERSE]
    if named and text.strip() in named:
        return resolve_universe(",".join(named[text.strip()]))
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "." in part:
            code, exchange = part.rsplit(".", 1)
            out.append(check_symbol(f"{code}.{exchange.upper()}"))
        elif part.isdigit() and len(part) == 6:
            out.append(f"{part}.{'SSE' if part[0] in '569' else 'SZSE'}")
        else:
            raise ValueError(f"cannot read symbol {part!r}: use 600519, 600519.SSE or AAPL.US")
    if not out:
        raise ValueError("the universe is empty: give demo or a list of codes")
    return out


class Syncer:
    def __init__(self, store: Store, source: Source, config: DataConfig) -> None:
        self.store = store
        self.source = source
        self.config = config

    def sync(
        self,
        symbols: Sequence[str],
        freq: str,
        *,
        start: date | None = None,
        end: date | None = None,
        progress: Progress | None = None,
    ) -> SyncSummary:
        if freq not in FREQS:
            raise ValueError(f"unknown frequency {freq!r}: expected 1d or 1m")
        t0 = datetime.now()
        end = end or date.today()
        summary = SyncSummary(freq, [])
        calendar = self._calendar(summary)
        names = self._names(summary)
        metas = self.store.metas(list(symbols), freq)
        streak = rows = 0
        since = time.monotonic()
        pending: list[tuple[int, SymbolOutcome, Incoming]] = []

        def flush() -> None:
            batch = pending[:]
            pending.clear()  # taken once: a failing write is not tried again on the way out
            results = self.store.write_many(
                freq, [incoming for _, _, incoming in batch], source=self.source.name
            )
            for (n, outcome, _), result in zip(batch, results, strict=True):
                _tally(outcome, result)
                if progress is not None:
                    progress(n, len(symbols), outcome)

        try:
            for n, vt_symbol in enumerate(symbols, start=1):
                fetched: Incoming | None = None
                if streak >= OFFLINE_STREAK:
                    outcome = SymbolOutcome(vt_symbol, error="not attempted: the network is down")
                else:
                    outcome, fetched = self._fetch(
                        vt_symbol, freq, start, end, calendar, names, metas.get(vt_symbol)
                    )
                    streak = streak + 1 if outcome.offline else 0
                    if streak == OFFLINE_STREAK and n < len(symbols):
                        summary.notes.append(
                            f"stopped after {OFFLINE_STREAK} symbols in a row could not connect: "
                            "check the network (or use --source demo offline)"
                        )
                summary.outcomes.append(outcome)
                if fetched is not None:
                    if not pending:
                        since = time.monotonic()
                    pending.append((n, outcome, fetched))
                    rows += len(fetched.bars)
                    if rows >= WRITE_ROWS or time.monotonic() - since >= FLUSH_SECONDS:
                        flush()
                        rows = 0
                elif progress is not None:
                    progress(n, len(symbols), outcome)
        except BaseException:  # ctrl+c or a crash: what was fetched is still written
            if pending:
                flush()
            raise
        if pending:
            flush()
        if freq == "1d" and summary.stored:
            # New symbols and rewritten ranges join the universe block now, in the batch
            # job, rather than on the next universe read.
            rebuilt = self.store.panels.rebuild()
            if rebuilt:
                summary.notes.append(f"universe panel: {rebuilt} symbols added or rebuilt")
        if summary.stored:
            summary.snapshot = self.store.snapshot(freq, f"sync-{self.source.name}")
        summary.seconds = (datetime.now() - t0).total_seconds()
        for line in summary.lines():
            log.info("sync %s", line)
        return summary

    def _fetch(
        self,
        vt_symbol: str,
        freq: str,
        start: date | None,
        end: date,
        calendar: list[date],
        names: dict[str, str],
        meta: SymbolMeta | None,
    ) -> tuple[SymbolOutcome, Incoming | None]:
        """The symbol's missing bars from the source, or why there are none to write."""
        outcome = SymbolOutcome(vt_symbol)
        try:
            mixed = self._mixing(vt_symbol, freq, meta)
            if mixed:
                outcome.error = mixed
                return outcome, None
            begin = self._begin(freq, start, end, meta)
            known = bool(calendar) and calendar[-1] >= end  # the calendar reaches the end
            trading = bisect_right(calendar, end) > bisect_left(calendar, begin)
            if begin > end or (known and not trading):
                outcome.skipped = "up to date"
                return outcome, None
            bars = self.source.bars(vt_symbol, freq, begin, end)
            factors = self.source.factors(vt_symbol) if freq == "1d" else None
            actions = self._actions(vt_symbol, outcome) if freq == "1d" else None
        except SourceError as exc:
            outcome.error = exc.reason
            outcome.offline = exc.offline
            log.error("sync %s %s failed: %s", vt_symbol, freq, exc)
            return outcome, None
        except ValueError as exc:  # a symbol the source cannot serve
            outcome.error = str(exc)
            return outcome, None
        name = names.get(vt_symbol.split(".")[0], "")
        return outcome, Incoming(vt_symbol, bars, name, factors, actions)

    def _actions(self, vt_symbol: str, outcome: SymbolOutcome) -> Actions | None:
        """The symbol's dividends, or None (the stored ones are kept) when the source
        refuses them -- Tushare's ``dividend`` needs 2,000 points -- without losing the bars."""
        try:
            return self.source.actions(vt_symbol)
        except SourceError as exc:
            outcome.no_actions = exc.reason
            log.warning("sync %s: dividends not fetched: %s", vt_symbol, exc.reason)
            return None

    def _mixing(self, vt_symbol: str, freq: str, meta: SymbolMeta | None) -> str:
        """Why this source must not write onto what is stored (synthetic demo bars and real
        ones never share a history), or ""."""
        if meta is None or not meta.source:
            return ""
        stored_demo, new_demo = meta.source == "demo", self.source.name == "demo"
        if stored_demo == new_demo:
            return ""
        what = "synthetic demo bars" if stored_demo else f"real bars (source {meta.source})"
        return (
            f"the store holds {what} for {vt_symbol} {freq}; {self.source.name} bars would be "
            f"mixed into them. Remove them first: quantdesk data delete {vt_symbol} --freq {freq}"
        )

    def _begin(self, freq: str, start: date | None, end: date, meta: SymbolMeta | None) -> date:
        if meta is not None and meta.last:
            last = datetime.fromisoformat(meta.last)
            resume = last.date() if freq == "1m" else last.date() + timedelta(days=1)
            return max(resume, start) if start else resume
        if start:
            return start
        if freq == "1m":
            return end - timedelta(days=self.config.minute_days + 2)
        return date.fromisoformat(self.config.history_start)

    def _calendar(self, summary: SyncSummary) -> list[date]:
        try:
            days = self.source.calendar()
        except SourceError as exc:
            stored = self.store.calendar()
            summary.problems.append(
                f"trading calendar not refreshed from {self.source.name}: {exc}"
                + (f" (the stored one ends {stored[-1]})" if stored else " (none is stored)")
            )
            return stored
        self.store.write_calendar(days)
        return self.store.calendar()  # sorted and unique: the checks bisect it

    def _names(self, summary: SyncSummary) -> dict[str, str]:
        try:
            return self.source.names()
        except SourceError as exc:
            summary.notes.append(f"names not refreshed ({exc})")
            return {}


def _tally(outcome: SymbolOutcome, result: WriteResult) -> None:
    outcome.stored, outcome.unchanged = result.stored, result.unchanged
    outcome.quarantined = result.quarantined
    outcome.rules = dict(result.report.counts)
