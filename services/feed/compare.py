"""Recorded live bars against the source's official minute bars, after the daily sync.

Paper mode stores the one-minute bars it built from the live quotes (source
``live``). The sync then fetches the same day's official minute bars and this
module reports every minute where they differ -- a missed poll, an auction print,
a correction -- instead of letting one silently stand for the other.

Labels: a live bar is labelled by its first minute (09:30 holds 09:30:00–09:30:59);
AkShare's minute bars by their end (09:31 for the same trades). Official bars are
shifted back one minute before comparing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from services.data.sources import Source, SourceError
from services.store import Store, StoreError

log = logging.getLogger("quantdesk.feed")
PRICE_TOLERANCE = 1e-6
VOLUME_TOLERANCE = 0.01  # 1 %: Level-1 snapshots every few seconds miss nothing in volume
FIELDS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class Comparison:
    """One symbol's recorded day against the official one."""

    vt_symbol: str
    day: date
    compared: int  # minutes present in both
    only_recorded: int
    only_official: int
    differences: tuple[tuple[str, str, float, float], ...]  # (minute, field, live, official)
    error: str = ""

    @property
    def clean(self) -> bool:
        return not (self.error or self.only_recorded or self.only_official or self.differences)

    def line(self) -> str:
        if self.error:
            return f"{self.vt_symbol} {self.day}: not compared ({self.error})"
        text = (
            f"{self.vt_symbol} {self.day}: {self.compared} minutes compared, "
            f"{len({d[0] for d in self.differences})} differ"
        )
        if self.only_recorded or self.only_official:
            text += f", {self.only_recorded} only recorded, {self.only_official} only official"
        if self.differences:
            minute, field, live, official = self.differences[0]
            text += f" (first: {minute} {field} live {live:g} vs official {official:g})"
        return text


def recorded_symbols(store: Store, day: date) -> list[str]:
    """Symbols whose minute bars were recorded live and include ``day``."""
    out = []
    for symbol in store.symbols("1m"):
        meta = store.meta(symbol, "1m")
        if meta is None or meta.source != "live" or not meta.last:
            continue
        if pd.Timestamp(meta.last).date() >= day:
            out.append(symbol)
    return out


def compare_day(store: Store, source: Source, vt_symbol: str, day: date) -> Comparison:
    """The recorded bars of ``day`` against ``source``'s official minute bars."""
    try:
        live = store.read_bars(vt_symbol, "1m", start=day, end=day + timedelta(days=1))
        live = live[live.index.date == day]
        official = source.bars(vt_symbol, "1m", day, day)
    except (StoreError, SourceError, ValueError) as exc:
        return Comparison(vt_symbol, day, 0, 0, 0, (), str(exc))
    official = official.copy()
    official.index = official.index - pd.Timedelta(minutes=1)  # end label → start label
    both = live.index.intersection(official.index)
    diffs: list[tuple[str, str, float, float]] = []
    for at in both:
        for field in FIELDS:
            a, b = float(live.at[at, field]), float(official.at[at, field])
            if field == "volume":
                off = abs(a - b) > VOLUME_TOLERANCE * max(abs(b), 1.0)
            else:
                off = abs(a - b) > PRICE_TOLERANCE * max(abs(b), 1.0)
            if off:
                diffs.append((f"{at:%H:%M}", field, a, b))
    return Comparison(
        vt_symbol,
        day,
        len(both),
        len(live.index.difference(official.index)),
        len(official.index.difference(live.index)),
        tuple(diffs),
    )


def compare_recorded(store: Store, source: Source, day: date) -> list[Comparison]:
    """Every live-recorded symbol of ``day``; each result is logged (differences as
    warnings: they are reported, never hidden)."""
    results = [compare_day(store, source, s, day) for s in recorded_symbols(store, day)]
    for result in results:
        (log.info if result.clean else log.warning)("recorded vs official: %s", result.line())
    return results
