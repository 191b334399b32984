"""A portfolio backtest of 3,000 A-shares over 10 years of daily bars, against vectorbt.

3,000 synthetic A-share random walks (2,520 bars each) with what real panels have:
late listings, delistings, suspensions (holes in the panel) and limit days (moves
clipped at ±10 %, some sealed one-price bars). ``ma_cross`` with its defaults, one
shared cash account, 2 % of equity per entry, executed at the next open.

- quantdesk: ``engine.run`` -- signals per symbol, the kernel (100-share lots, the 5 CNY
  minimum commission, stamp duty on sells, transfer fee), vectorbt's trade records;
- vectorbt: the same signals (numpy moving averages, same crossings) as orders into
  ``Portfolio.from_orders`` with shared cash: a target of 2 % of the account's value
  on an entry, 0 on an exit (``from_signals`` has no target percent), at the next
  open, 100-share granularity and a flat 0.025 % fee (vectorbt has no minimum
  commission or sell-only stamp duty); then its trade records and total return.

Each runs in a fresh child process (numba cache warm; one warm-up call on 5 symbols)
so that its peak RSS is its own: the time of the run and the child's peak memory.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CACHE = Path(tempfile.gettempdir()) / "quantdesk-bench-numba"
os.environ.setdefault("NUMBA_CACHE_DIR", str(CACHE))

SYMBOLS, BARS = int(os.environ.get("QD_BENCH_SYMBOLS", "3000")), 2520


def frames() -> dict[str, object]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(3)
    index = pd.bdate_range("2015-01-05", periods=BARS, name="datetime")
    out = {}
    for i in range(SYMBOLS):
        moves = np.clip(rng.normal(0.0002, 0.02, BARS), -0.0953, 0.0953)  # within ±10 %
        sealed = rng.random(BARS) < 0.003  # limit days: a one-price bar at the limit
        moves[sealed] = np.where(rng.random(sealed.sum()) < 0.5, 0.0953, -0.1053)
        close = np.round(10 * np.exp(np.cumsum(moves)), 2)
        frame = pd.DataFrame(
            {
                "open": np.round(close * (1 + rng.normal(0, 0.003, BARS)), 2),
                "high": np.round(close * 1.01, 2),
                "low": np.round(close * 0.99, 2),
                "close": close,
                "volume": 1e6,
            },
            index=index,
        )
        frame.loc[sealed, ["open", "high", "low"]] = frame.loc[sealed, "close"].to_numpy()[:, None]
        if i % 10 == 0:  # listed later
            frame = frame.iloc[rng.integers(100, 1000) :]
        if i % 25 == 0:  # delisted
            frame = frame.iloc[: len(frame) - int(rng.integers(200, 800))]
        if i % 7 == 0:  # a suspension
            cut = int(rng.integers(0, len(frame) - 60))
            frame = frame.drop(frame.index[cut : cut + 40])
        out[f"{600000 + i:06d}.SSE"] = frame
    return out


def report(work: Callable[[], tuple[int, float]]) -> None:
    """Time ``work`` (a warmed-up run returning its trades and total return) and print it
    with this process's peak memory, as one JSON line for the parent."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    trades, total = work()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": round(seconds, 3),
                "peak_rss_mb": round(peak / 1024),
                "rss_before_run_mb": round(before / 1024),
                "trades": trades,
                "total_return": total,
            }
        )
    )


def child() -> None:
    import strategies
    from services.accounting.costs import CostConfig
    from services.backtest.engine import Setup, run
    from services.backtest.rules import BacktestConfig, rules_for

    data = frames()
    rules = [rules_for(s, BacktestConfig(), CostConfig()) for s in data]
    setup = Setup(init_cash=10_000_000, sizing="percent", size=0.02)
    ma = strategies.get("ma_cross")
    run(ma, dict(list(data.items())[:5]), None, rules[:5], setup)  # load the kernel

    def work() -> tuple[int, float]:
        result = run(ma, data, None, rules, setup)
        return int(result.metrics["trades"] or 0), float(result.metrics["total_return"] or 0)

    report(work)


def vectorbt_child() -> None:
    import numpy as np
    import pandas as pd
    import vectorbt as vbt

    def prepare(
        data: dict[str, object],
    ) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
        close = pd.DataFrame({s: f["close"] for s, f in data.items()})  # type: ignore[index]
        open_ = pd.DataFrame({s: f["open"] for s, f in data.items()})  # type: ignore[index]
        values = close.to_numpy()
        fast = close.rolling(10).mean().to_numpy()
        slow = close.rolling(30).mean().to_numpy()
        entries = np.zeros(values.shape, bool)
        exits = np.zeros(values.shape, bool)
        entries[1:] = (fast[1:] > slow[1:]) & (fast[:-1] <= slow[:-1])
        exits[1:] = (fast[1:] < slow[1:]) & (fast[:-1] >= slow[:-1])
        # executed at the next bar's open, as quantdesk's next_open
        entries = np.vstack([np.zeros((1, values.shape[1]), bool), entries[:-1]])
        exits = np.vstack([np.zeros((1, values.shape[1]), bool), exits[:-1]])
        return close, open_, entries, exits

    def simulate(data: dict[str, object]) -> object:
        close, open_, entries, exits = prepare(data)
        # 2 % of the account's value on an entry, nothing on an exit, no order otherwise:
        # from_signals has no "target percent", from_orders does
        size = np.where(entries, 0.02, np.where(exits, 0.0, np.nan))
        return vbt.Portfolio.from_orders(
            close,
            size=size,
            price=open_,
            size_type="targetpercent",
            size_granularity=100,
            fees=0.00025,
            init_cash=10_000_000,
            cash_sharing=True,
            group_by=True,
            call_seq="auto",
            freq="1D",
        )

    data = frames()
    simulate(dict(list(data.items())[:5]))  # compile vectorbt's numba functions

    def work() -> tuple[int, float]:
        pf = simulate(data)
        trades = int(pf.trades.closed.count().sum())  # type: ignore[attr-defined]
        return trades, float(np.asarray(pf.total_return()).ravel()[0])  # type: ignore[attr-defined]

    report(work)


def main() -> None:
    from bench.common import write

    def once(flag: str) -> dict[str, object]:
        out = subprocess.run(
            [sys.executable, __file__, flag], capture_output=True, text=True, check=True
        )
        result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
        return result

    ours = [once("--child") for _ in range(2)]  # the first fills the numba cache if cold
    theirs = [once("--vectorbt") for _ in range(2)]
    q, v = ours[-1], theirs[-1]
    write(
        "backtest_portfolio",
        {
            "symbols": SYMBOLS,
            "bars": BARS,
            "quantdesk": q,
            "vectorbt": v,
            "time_ratio": round(float(q["seconds"]) / float(v["seconds"]), 2),  # type: ignore[arg-type]
            "peak_rss_ratio": round(float(q["peak_rss_mb"]) / float(v["peak_rss_mb"]), 2),  # type: ignore[arg-type]
        },
    )


if __name__ == "__main__":
    if "--child" in sys.argv:
        child()
    elif "--vectorbt" in sys.argv:
        vectorbt_child()
    else:
        main()
