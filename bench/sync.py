"""Sync throughput: the 1,000-symbol daily universe from a local fake source.

The source serves pre-generated frames (10+ years of daily bars per symbol),
so the figures are quantdesk's: validation, metadata, ArcticDB writes and the
snapshot. Three runs: the first (full history), an incremental run with
nothing new (every symbol up to date), and an incremental run one trading
day later (one new bar per symbol). Targets: nothing new < 5 % of the first
run, one new day <= 10 %. The first run ends by building the universe panel
block (see services/data/panels.py); the one-day run appends to it and holds
the day in the recent frame (services/data/recent.py). The fold that every
FOLD_DAYS dates moves those rows into bars_1d is timed too: the sync that
reaches the limit pays it, and the JSON gives that day's and the amortized
share.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import write
from services.data.actions import Actions
from services.data.adjust import Factors
from services.data.recent import FOLD_DAYS
from services.data.sources.demo import DemoSource
from services.data.sync import DataConfig, Syncer
from services.instruments import synthetic_universe
from services.store import Store, store_uri


class FrameSource:
    """Serves frames generated before the clock starts (a local, instant vendor)."""

    name = "local"

    def __init__(
        self, frames: dict[str, pd.DataFrame], factors: dict[str, Factors], calendar: list[date]
    ) -> None:
        self.frames, self._factors, self._calendar = frames, factors, calendar
        self._actions: dict[str, Actions] = {}
        self.calls = 0

    def bars(self, vt_symbol: str, freq: str, start: date, end: date) -> pd.DataFrame:
        self.calls += 1
        frame = self.frames[vt_symbol]  # sorted: a binary search, as a vendor's index would
        return frame.loc[pd.Timestamp(start) : pd.Timestamp(end) + pd.Timedelta(hours=23)]

    def factors(self, vt_symbol: str) -> Factors:
        return self._factors[vt_symbol]

    def actions(self, vt_symbol: str) -> Actions:
        return self._actions.get(vt_symbol, [])

    def calendar(self) -> list[date]:
        return self._calendar

    def names(self) -> dict[str, str]:
        return {}


def main() -> None:
    logging.disable(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", type=int, default=1000)
    args = parser.parse_args()
    universe = synthetic_universe(args.symbols)
    last_day = date(2026, 11, 20)  # a Friday; the data runs to the next Monday
    demo = DemoSource(last_day + timedelta(days=4), minute_days=1, instruments=universe)
    symbols = [i.vt_symbol for i in universe]
    print(f"generating {len(symbols)} symbols...")
    frames = {
        s: demo.bars(s, "1d", date(2016, 1, 1), last_day + timedelta(days=3)) for s in symbols
    }
    factors = {s: demo.factors(s) for s in symbols}
    source = FrameSource(frames, factors, demo.calendar())
    work = Path(tempfile.mkdtemp(prefix="qd-bench-sync-"))
    try:
        store = Store(store_uri("", work), log_file=work / "arcticdb.log")
        store.open()
        syncer = Syncer(store, source, DataConfig(history_start="2016-01-01"))
        runs = {}
        for label, end in (
            ("first", last_day),
            ("incremental_nothing_new", last_day),
            ("incremental_one_day", last_day + timedelta(days=3)),
        ):
            calls = source.calls
            t0 = time.perf_counter()
            summary = syncer.sync(symbols, "1d", end=end)
            seconds = time.perf_counter() - t0
            runs[label] = {
                "seconds": round(seconds, 3),
                "rows_stored": summary.stored,
                "rows_per_s": round(summary.stored / seconds) if summary.stored else 0,
                "source_requests": source.calls - calls,
                "failed": len(summary.failed),
            }
            print(label, runs[label])
        # The day's rows wait in the recent frame (services/data/recent.py); every
        # FOLD_DAYS dates the sync that reaches the limit also folds them into bars_1d.
        held = len(store.recent.entries())
        t0 = time.perf_counter()
        folded = store.fold()
        fold = time.perf_counter() - t0
        print(f"fold of {folded} symbols' held rows (held: {held}): {fold:.3f}s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    first = runs["first"]["seconds"]
    one_day = runs["incremental_one_day"]["seconds"]
    write(
        "sync",
        {
            "symbols": len(symbols),
            **runs,
            "incremental_one_day_pct_of_first": round(
                100 * runs["incremental_one_day"]["seconds"] / first, 2
            ),
            "fold": {"seconds": round(fold, 3), "symbols": folded, "every_days": FOLD_DAYS},
            "incremental_one_day_on_fold_day_pct_of_first": round(
                100 * (one_day + fold) / first, 2
            ),
            "incremental_one_day_amortized_pct_of_first": round(
                100 * (one_day + fold / FOLD_DAYS) / first, 2
            ),
            "incremental_nothing_new_pct_of_first": round(
                100 * runs["incremental_nothing_new"]["seconds"] / first, 2
            ),
            "target_pct": 5.0,
            "target_one_day_pct": 10.0,
        },
    )


if __name__ == "__main__":
    main()
