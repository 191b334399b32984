"""A 500-symbol portfolio backtest over 10 years of daily bars: time and peak memory.

500 synthetic A-share random walks (2,520 bars each, some listed late and some
suspended for stretches, so the panel has holes), ``ma_cross`` with its defaults,
one shared cash account, 2 % of equity per entry, A-share lots and costs. Run in
a fresh child process (numba cache warm) so that its peak RSS is the backtest's:
time of ``engine.run`` (signals per symbol, the kernel, vectorbt's trade records)
and the child's peak resident memory.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CACHE = Path(tempfile.gettempdir()) / "quantdesk-bench-numba"
os.environ.setdefault("NUMBA_CACHE_DIR", str(CACHE))

SYMBOLS, BARS = 500, 2520


def frames() -> dict[str, object]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(3)
    index = pd.bdate_range("2015-01-05", periods=BARS, name="datetime")
    out = {}
    for i in range(SYMBOLS):
        close = np.round(10 * np.exp(np.cumsum(rng.normal(0.0002, 0.02, BARS))), 2)
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
        if i % 10 == 0:  # listed later
            frame = frame.iloc[rng.integers(100, 1000) :]
        if i % 7 == 0:  # a suspension
            cut = int(rng.integers(0, len(frame) - 60))
            frame = frame.drop(frame.index[cut : cut + 40])
        out[f"{600000 + i:06d}.SSE"] = frame
    return out


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
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    result = run(ma, data, None, rules, setup)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": round(seconds, 3),
                "peak_rss_mb": round(peak / 1024),
                "rss_before_run_mb": round(before / 1024),
                "trades": int(result.metrics["trades"] or 0),
                "total_return": result.metrics["total_return"],
            }
        )
    )


def main() -> None:
    from bench.common import write

    runs = []
    for _ in range(2):  # the first fills the numba cache if it is cold
        out = subprocess.run(
            [sys.executable, __file__, "--child"], capture_output=True, text=True, check=True
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    write("backtest_portfolio", {"symbols": SYMBOLS, "bars": BARS, **runs[-1]})


if __name__ == "__main__":
    child() if "--child" in sys.argv else main()
