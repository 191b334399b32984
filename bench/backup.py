"""A backup of a 100,000-event journal and a 1 GB store while orders are handled.

The issue's target: the time a backup takes, and the pause it causes to order
handling (no pause above 10 ms). The backup runs as the nightly job does, in a
thread of the process that trades: SQLite's online backup of the journal, each
LMDB library copied by a child process, every file checksummed. Meanwhile the
order path runs flat out on the same journal -- ``OrderService.submit`` of a resting
limit order on the demo's paper venue (checks, every risk rule, two journal commits,
the venue) then its cancel -- and each submit is timed. The peer: the same loop for
the same number of submits with no backup running, same run, same warm-up.

A third arm measures the machine itself: the same paced loop doing a fixed ~1 ms of
pure Python (no I/O, no lock) instead of a submit. Whatever pauses it sees are the
scheduler's or the hypervisor's, not quantdesk's, and set the floor under "no pause
above 10 ms". ``--sqlite-checkpoint`` runs the journals as they were before the
checkpointer (SQLite's own checkpoint every 1,000 pages, inside a commit), to show
what it changed.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd

from bench.common import risk_off, summary, write
from services.accounting.costs import CostConfig
from services.data.sync import DataConfig
from services.events import OrderIntent
from services.ops.backup import BackupResult, take_backup
from services.ops.scheduler import JobsConfig
from services.records.journal import Journal
from services.runtime import AccountConfig, Services, build_services
from services.venues.simulator import SimConfig

OFF = risk_off()
PAUSE_MS = 10.0
RATE = 200  # submits a second (each followed by its cancel)


def _journal(data: Path, events: int) -> None:
    """``events`` journal entries (notes of a realistic size) ahead of the session."""
    Journal(data / "journal.sqlite3").close()  # its schema
    payload = '{"note": "' + "x" * 180 + '"}'
    at = datetime(2026, 11, 20, 9, 30).isoformat()
    with sqlite3.connect(data / "journal.sqlite3") as db:
        db.executemany(
            "INSERT INTO entries (at, kind, ref, payload) VALUES (?, 'note', ?, ?)",
            ((at, f"n{i}", payload) for i in range(events)),
        )


def _store(data: Path, megabytes: int) -> object:
    """Minute bars of random prices (they do not compress) until ~``megabytes`` on disk;
    the store stays open, as the console keeps it."""
    import arcticdb

    arctic = arcticdb.Arctic(f"lmdb://{data / 'arctic'}?map_size=8GB")
    lib = arctic.get_library("bars_1m", create_if_missing=True)
    rows = 500_000
    per_symbol = rows * 6 * 8
    rng = np.random.default_rng(7)
    index = pd.date_range("2020-01-01 09:30", periods=rows, freq="min")
    for k in range(max(1, megabytes * 1_000_000 // per_symbol)):
        frame = pd.DataFrame(
            rng.random((rows, 6)) * 100,
            index=index,
            columns=["open", "high", "low", "close", "volume", "turnover"],
        )
        lib.write(f"S{k:03d}.SSE", frame)
    return arctic


def _services(data: Path) -> Services:
    services = build_services(
        data,
        sim=SimConfig(),
        costs=CostConfig(),
        account=AccountConfig(initial_cash=1e12),
        paced=False,
        data=DataConfig(source="demo"),
        jobs=JobsConfig(daily_sync="", backup="", daily_summary=""),
        risk=OFF,
    )
    services.start()
    services.gateway.advance(50)  # type: ignore[union-attr]  # quotes for every symbol
    assert services.bus.wait_idle()
    return services


def _paced(n: int, until: threading.Event | None) -> Iterator[int]:
    """0, 1, 2, ... at ``RATE`` a second, ``n`` of them (or until ``until`` is set):
    paced, as a busy session is -- a saturated loop would measure the GIL."""
    i = 0
    next_at = time.perf_counter()
    while (until is None and i < n) or (until is not None and not until.is_set()):
        next_at += 1 / RATE
        time.sleep(max(0.0, next_at - time.perf_counter()))
        yield i
        i += 1


def _submits(services: Services, n: int, tag: str, until: threading.Event | None) -> list[float]:
    """Time ``n`` submits (or until ``until`` is set), each cancelled after."""
    tick = services.market.get("600519.SSE")
    assert tick is not None
    price = round(tick.bid_price_1 * 0.99, 2)
    out = []
    for i in _paced(n, until):
        t0 = time.perf_counter()
        result = services.orders.submit(
            OrderIntent(f"{tag}-{i}", "600519.SSE", "buy", "limit", 100, price)
        )
        out.append((time.perf_counter() - t0) * 1000)
        assert result.accepted, result.violations
        services.orders.cancel(str(result.vt_orderid))
    return out


def _machine(n: int) -> list[float]:
    """Time ``n`` rounds of fixed pure-Python work at the submits' pace: the machine's
    own pauses (scheduler, hypervisor), with nothing of quantdesk's on the path."""
    out = []
    for _ in _paced(n, None):
        t0 = time.perf_counter()
        total = 0
        for k in range(25_000):  # ~1 ms on this project's machine, like a submit
            total += k
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _over(values: list[float]) -> int:
    return sum(1 for v in values if v > PAUSE_MS)


def _sqlite_checkpoint(services: Services) -> None:
    """The journals as they were before the checkpointer: SQLite checkpoints every 1,000
    pages inside the commit that crosses the mark (the bench reaches into the journal)."""
    for desk in services.desks:
        journal = desk.journal
        if journal._checkpointer is not None:
            journal._checkpointer.stop()
            journal._checkpointer = None
        journal._db.execute("PRAGMA wal_autocheckpoint=1000")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000, help="journal entries")
    parser.add_argument("--store-mb", type=int, default=1000, help="store size, MB")
    parser.add_argument(
        "--rate-mb", type=float, default=60.0, help="[backup] rate_mb (0: unthrottled)"
    )
    parser.add_argument(
        "--sqlite-checkpoint",
        action="store_true",
        help="SQLite's own checkpoints inside commits, as before the checkpointer",
    )
    parser.add_argument("--rounds", type=int, default=3, help="backups, arms interleaved")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="qdbk", dir="/tmp"))
    data = folder / "data"
    data.mkdir()
    print(f"building a {args.events:,}-event journal and a ~{args.store_mb:,} MB store ...")
    _journal(data, args.events)
    arctic = _store(data, args.store_mb)
    services = _services(data)
    if args.sqlite_checkpoint:
        _sqlite_checkpoint(services)
    result: list[BackupResult] = []
    during: list[float] = []
    baseline: list[float] = []
    machine: list[float] = []
    rounds: list[dict[str, int]] = []

    def backup(done: threading.Event) -> None:
        try:
            result.append(take_backup(data, folder / "backups", keep=1, rate_mb=args.rate_mb))
        finally:
            done.set()

    try:
        _submits(services, 200, "warm", None)  # warm-up, not counted
        for r in range(args.rounds):  # the three arms interleaved: the machine drifts
            done = threading.Event()
            worker = threading.Thread(target=backup, args=(done,), name="backup")
            worker.start()
            arm = _submits(services, 0, f"during{r}", done)
            worker.join()
            base = _submits(services, len(arm), f"base{r}", None)
            idle = _machine(len(arm))
            rounds.append(
                {k: _over(v) for k, v in (("during", arm), ("base", base), ("machine", idle))}
            )
            print(f"round {r + 1}: over {PAUSE_MS:g} ms -- {rounds[-1]}")
            during, baseline, machine = during + arm, baseline + base, machine + idle
    finally:
        services.stop()
        del arctic
    taken = result[-1]
    journal_mb = (data / "journal.sqlite3").stat().st_size / 1e6
    with_backup, without, floor = summary(during), summary(baseline), summary(machine)
    over, over_base, over_machine = _over(during), _over(baseline), _over(machine)
    print(
        f"backup: {taken.bytes / 1e6:,.0f} MB ({len(taken.files)} files; journal "
        f"{journal_mb:,.0f} MB) in {', '.join(f'{b.seconds:.1f}' for b in result)} s"
    )
    arms = (
        ("submit during backup", with_backup, over),
        ("submit, no backup", without, over_base),
        ("machine, 1 ms of work", floor, over_machine),
    )
    for name, s, n_over in arms:
        print(
            f"{name:22}: n {s['n']:,}, p50 {s['p50']:.3f} ms, p99 {s.get('p99', 0):.3f} "
            f"ms, max {s['max']:.2f} ms, over {PAUSE_MS:g} ms: {n_over}"
        )
    write(
        "backup_sqlite_checkpoint" if args.sqlite_checkpoint else "backup",
        {
            "checkpoints": "sqlite, inside commits" if args.sqlite_checkpoint else "checkpointer",
            "journal_events": args.events,
            "rate_mb": args.rate_mb,
            "journal_mb": round(journal_mb, 1),
            "store_mb": round(sum(f.bytes for f in taken.files if f.kind == "lmdb") / 1e6, 1),
            "backup_mb": round(taken.bytes / 1e6, 1),
            "backup_s": [round(b.seconds, 2) for b in result],
            "rounds": rounds,
            "submit_during_backup_ms": with_backup,
            "submit_baseline_ms": without,
            "submits_over_10ms_during": over,
            "submits_over_10ms_baseline": over_base,
            "machine_work_ms": floor,
            "machine_over_10ms": over_machine,
            "max_pause_ms": round(with_backup["max"], 2),
            "target_max_pause_ms": PAUSE_MS,
        },
    )
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
