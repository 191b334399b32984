"""Store read speed: ArcticDB (through services/store.py, qfq applied) vs Parquet vs CSV.

Two workloads, all three formats read in the same run:
- one symbol with 2,000,000 minute bars;
- 10 years of daily bars (2,500 rows) for 1,000 symbols.
The store side is the real path: ``Store.read_bars(..., how="qfq")`` (metadata
read, factors applied). Parquet and CSV reads produce the same raw frame (no
adjustment), so the comparison favours them. Every side gets the same best of
``--repeat`` runs. ArcticDB reads the 1,000 symbols in one batch (its threads
decompress in parallel), so Parquet is read both one file at a time and with a
thread pool of one thread per core; the faster Parquet figure is the peer.
Targets: >= 2x faster than Parquet, >= 50x faster than CSV.

For the 1,000-symbol case the store side is ``Store.read_panel`` (all six
fields as dates x symbols frames, qfq applied) from the panel block, built once
before the clock starts; the old path, ``Store.read_many`` (a frame per
symbol), is timed alongside for reference. Universe targets: >= 3x Parquet,
>= 25x CSV.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import write
from services.store import Store, store_uri

FIELDS = ("open", "high", "low", "close", "volume", "amount")
FACTORS = [(date(2010, 1, 4), 1.0), (date(2015, 7, 10), 1.02), (date(2020, 7, 10), 1.05)]


def bars(n: int, freq: str, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    index = pd.date_range("2016-01-04 09:31", periods=n, freq=freq, name="datetime")
    close = 10 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    return pd.DataFrame(
        {
            "open": close,
            "high": close * 1.001,
            "low": close * 0.999,
            "close": close,
            "volume": rng.integers(100, 10_000, n).astype(float),
            "amount": close * 1000,
        },
        index=index,
    )


def best(repeat: int, fn: Callable[[], int]) -> tuple[float, int]:
    times, rows = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        rows = fn()
        times.append(time.perf_counter() - t0)
    return min(times), rows


def compare(
    label: str,
    repeat: int,
    store_fn: Callable[[], int],
    parquet_fn: Callable[[], int],
    csv_fn: Callable[[], int],
    parquet_threaded_fn: Callable[[], int] | None = None,
) -> dict[str, object]:
    s, rows = best(repeat, store_fn)
    p, _ = best(repeat, parquet_fn)
    c, _ = best(repeat, csv_fn)  # the same repeats as the others: equal terms
    out: dict[str, object] = {"rows": rows, "repeats": repeat, "store_qfq_s": round(s, 4)}
    out["parquet_s"] = round(p, 4)
    if parquet_threaded_fn is not None:
        pt, _ = best(repeat, parquet_threaded_fn)
        out["parquet_threaded_s"] = round(pt, 4)
        p = min(p, pt)
    print(f"{label}: store {s:.3f}s parquet {p:.3f}s csv {c:.3f}s ({rows:,} rows)")
    out.update(
        {
            "csv_s": round(c, 4),
            "store_rows_per_s": round(rows / s),
            "parquet_rows_per_s": round(rows / p),
            "csv_rows_per_s": round(rows / c),
            "speedup_vs_parquet": round(p / s, 2),  # against the faster Parquet read
            "speedup_vs_csv": round(c / s, 1),
        }
    )
    return out


def one_daily(store: Store, names: list[str], repeat: int) -> dict[str, float]:
    """One symbol's daily bars (qfq), as stored and with a sync's new day waiting in the
    recent frame (services/data/recent.py) for every symbol: ms per read, best of
    ``repeat`` runs of 200 reads each."""

    def per_read() -> float:
        seconds, _ = best(
            repeat, lambda: sum(len(store.read_bars(names[0], "1d", how="qfq")) for _ in range(200))
        )
        return round(seconds / 200 * 1000, 3)

    stored = per_read()
    last = store.read_bars(names[0], "1d").index[-1]
    day = bars(1, "B", 7)
    day.index = pd.DatetimeIndex([last + pd.offsets.BDay(1)], name=day.index.name)
    store.recent.add({name: day for name in names}, "bench")
    held = per_read()
    assert store.read_bars(names[0], "1d").index[-1] == day.index[0]
    print(f"one symbol's daily bars: {stored} ms per read; {held} ms with a day held")
    return {"stored_ms": stored, "with_held_day_ms": held}


def main() -> None:
    logging.disable(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minute-rows", type=int, default=2_000_000)
    parser.add_argument("--symbols", type=int, default=1000)
    parser.add_argument("--daily-rows", type=int, default=2500)
    parser.add_argument("--repeat", type=int, default=5)  # every side: best of these
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="qd-bench-read-"))
    pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2)
    try:
        store = Store(store_uri("", work), log_file=work / "arcticdb.log")
        store.open()
        # -- one symbol, 2 M minute bars --------------------------------------------------
        minute = bars(args.minute_rows, "1min", 1)
        store.library("bars_1m").write(
            "BIG.SSE", minute, metadata={"factors": [[d.isoformat(), f] for d, f in FACTORS]}
        )
        minute.to_parquet(work / "big.parquet")
        minute.to_csv(work / "big.csv")
        one = compare(
            "2M minute bars, 1 symbol",
            args.repeat,
            lambda: len(store.read_bars("BIG.SSE", "1m", how="qfq")),
            lambda: len(pd.read_parquet(work / "big.parquet")),
            lambda: len(pd.read_csv(work / "big.csv", index_col=0, parse_dates=True)),
        )
        # -- 1,000 symbols x 10 years daily ------------------------------------------------
        lib = store.library("bars_1d")
        (work / "pq").mkdir()
        (work / "csv").mkdir()
        names = [f"{600000 + i}.SSE" for i in range(args.symbols)]
        for i, name in enumerate(names):
            frame = bars(args.daily_rows, "B", 100 + i)
            lib.write(name, frame, metadata={"factors": [[d.isoformat(), f] for d, f in FACTORS]})
            frame.to_parquet(work / "pq" / f"{name}.parquet")
            frame.to_csv(work / "csv" / f"{name}.csv")
        t0 = time.perf_counter()
        store.panels.rebuild()  # the bench wrote bars_1d directly: build the panels once
        build_s = time.perf_counter() - t0
        many = compare(
            f"{args.symbols} symbols x {args.daily_rows} daily bars",
            args.repeat,
            lambda: int(store.read_panel(names, how="qfq")["close"].notna().to_numpy().sum()),
            lambda: sum(len(pd.read_parquet(work / "pq" / f"{n}.parquet")) for n in names),
            lambda: sum(
                len(pd.read_csv(work / "csv" / f"{n}.csv", index_col=0, parse_dates=True))
                for n in names
            ),
            lambda: sum(
                pool.map(lambda n: len(pd.read_parquet(work / "pq" / f"{n}.parquet")), names)
            ),
        )
        many["panels_built_once_s"] = round(build_s, 2)
        per_symbol, _ = best(
            args.repeat,
            lambda: sum(len(f) for f in store.read_many(names, "1d", how="qfq").values()),
        )
        many["per_symbol_frames_s"] = round(per_symbol, 4)  # the old path, for reference
        print(f"per-symbol frames (read_many, the old path): {per_symbol:.3f}s")
        many["one_symbol"] = one_daily(store, names, args.repeat)
    finally:
        pool.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    write(
        "store_read",
        {
            "one_symbol_2m_minute_bars": one,
            "daily_1000_symbols": many,
            "targets": {"vs_parquet": 2.0, "vs_csv": 50.0},
        },
    )


if __name__ == "__main__":
    main()
