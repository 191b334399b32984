"""The 4,851-combination moving-average sweep (windows 2-100, every pair) on 2,500 daily bars.

Same bars (the last 2,500 of ORCL 1995-2014, real) and the same crossover signals, in
the same run:
- quantdesk: ``services.backtest.engine.sweep`` -- signals, the kernel (A-share lots,
  5 CNY minimum commission, stamp duty), all 11 metrics for every combination, ranking;
- raw vectorbt: ``MA.run_combs`` + ``Portfolio.from_signals`` (percent fees only) + Sharpe;
- lean vectorbt: the same, but the moving averages and crossings are numpy arrays (no
  pandas frames per indicator, which the kernel never builds either) handed to
  ``Portfolio.from_signals`` -- the fairer peer; both are reported;
- backtrader: the same crossover, one combination per run, backtests per second
  (a sample of combinations; backtrader has no vectorised sweep).
Then the whole sweep in a fresh process with numba's disk cache warm (wall time,
imports included). Targets: <= 1.5x raw vectorbt, >= 300x backtrader's backtests
per second, <= 8 s in a fresh process.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CACHE = Path(tempfile.gettempdir()) / "quantdesk-bench-numba"
os.environ.setdefault("NUMBA_CACHE_DIR", str(CACHE))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.common import write  # noqa: E402

REAL = Path(os.environ.get("QUANTDESK_REAL_DATA") or ROOT / "tests" / "data" / "real")
FRESH = """
import sys, time
t = time.perf_counter()
sys.path.insert(0, {root!r})
from bench.backtest_sweep import load, ours
bars = load()
result = ours(bars)
print(len(result.table), time.perf_counter() - t)
"""


def load() -> pd.DataFrame:
    frame = pd.read_csv(REAL / "orcl-1995-2014.txt", parse_dates=["Date"], index_col="Date")
    frame = frame.rename(columns=str.lower).drop(columns=["adj close"]).iloc[-2500:]
    frame.index.name = "datetime"
    return frame


def ours(bars: pd.DataFrame):  # type: ignore[no-untyped-def]
    import strategies
    from services.accounting.costs import CostConfig
    from services.backtest.engine import Setup, sweep
    from services.backtest.rules import BacktestConfig, rules_for

    ma = strategies.get("ma_cross")
    combos = ma.combinations({"fast": range(2, 101), "slow": range(2, 101)})
    rules = rules_for("600000.SSE", BacktestConfig(), CostConfig())
    return sweep(ma, bars, combos, rules, Setup(init_cash=1_000_000), metric="sharpe")


def raw_vectorbt(bars: pd.DataFrame) -> int:
    import vectorbt as vbt

    close = bars["close"]
    fast, slow = vbt.MA.run_combs(
        close, window=list(range(2, 101)), r=2, short_names=["fast", "slow"]
    )
    entries = fast.ma_crossed_above(slow)
    exits = fast.ma_crossed_below(slow)
    pf = vbt.Portfolio.from_signals(
        close, entries, exits, fees=0.00025, init_cash=1_000_000, freq="1D"
    )
    return int(pf.sharpe_ratio().shape[0])


def lean_vectorbt(bars: pd.DataFrame) -> int:
    """The same sweep with numpy signals: one moving average per window (cumulative sums),
    crossings for every (fast, slow) pair at once, then vectorbt's simulation and Sharpe."""
    import vectorbt as vbt

    close = bars["close"].to_numpy(dtype=float)
    n = len(close)
    windows = np.arange(2, 101)
    csum = np.concatenate([[0.0], np.cumsum(close)])
    ma = np.full((n, len(windows)), np.nan)
    for j, w in enumerate(windows):
        ma[w - 1 :, j] = (csum[w:] - csum[:-w]) / w
    fi, si = np.triu_indices(len(windows), k=1)  # every fast < slow pair
    fast, slow = ma[:, fi], ma[:, si]
    first = np.zeros((1, len(fi)), bool)
    # the strategy's rule: fast > slow on this bar and fast <= slow on the previous one
    entries = (fast > slow) & np.vstack([first, (fast <= slow)[:-1]])
    exits = (fast < slow) & np.vstack([first, (fast >= slow)[:-1]])
    pf = vbt.Portfolio.from_signals(
        close[:, None], entries, exits, fees=0.00025, init_cash=1_000_000, freq="1D"
    )
    return int(np.asarray(pf.sharpe_ratio()).shape[0])


def backtrader_rate(bars: pd.DataFrame, samples: int) -> float:
    import backtrader as bt

    class Cross(bt.Strategy):  # type: ignore[misc]
        params = (("fast", 10), ("slow", 30))

        def __init__(self) -> None:
            self.cross = bt.ind.CrossOver(
                bt.ind.SMA(self.data.close, period=self.p.fast),
                bt.ind.SMA(self.data.close, period=self.p.slow),
            )

        def next(self) -> None:
            if not self.position and self.cross[0] > 0:
                self.order_target_percent(target=0.95)
            elif self.position and self.cross[0] < 0:
                self.close()

    rng = np.random.default_rng(0)
    pairs = [(f, s) for f in range(2, 101) for s in range(f + 1, 101)]
    chosen = [pairs[i] for i in rng.choice(len(pairs), samples, replace=False)]
    start = time.perf_counter()
    for fast, slow in chosen:
        cerebro = bt.Cerebro(stdstats=False)
        cerebro.adddata(bt.feeds.PandasData(dataname=bars))
        cerebro.addstrategy(Cross, fast=fast, slow=slow)
        cerebro.broker.setcash(1_000_000)
        cerebro.broker.setcommission(commission=0.00025)
        cerebro.run()
    return samples / (time.perf_counter() - start)


def best_of(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backtrader-samples", type=int, default=12)
    args = parser.parse_args()
    bars = load()
    combos = len(ours(bars).table)  # compiles (or loads) the kernel
    raw_vectorbt(bars)
    lean_vectorbt(bars)
    ours_s = best_of(lambda: ours(bars), args.repeat)
    raw_s = best_of(lambda: raw_vectorbt(bars), args.repeat)
    lean_s = best_of(lambda: lean_vectorbt(bars), args.repeat)
    bt_rate = backtrader_rate(bars, args.backtrader_samples)
    fresh = []
    for _ in range(2):  # the first may still fill the cache for this interpreter
        out = subprocess.run(
            [sys.executable, "-c", FRESH.format(root=str(ROOT))],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "NUMBA_CACHE_DIR": str(CACHE)},
        )
        fresh.append(float(out.stdout.split()[-1]))
    ours_rate = combos / ours_s
    write(
        "backtest_sweep",
        {
            "bars": len(bars),
            "combinations": combos,
            "quantdesk_s": round(ours_s, 3),
            "raw_vectorbt_s": round(raw_s, 3),
            "ratio_to_raw_vectorbt": round(ours_s / raw_s, 2),
            "lean_vectorbt_s": round(lean_s, 3),
            "ratio_to_lean_vectorbt": round(ours_s / lean_s, 2),
            "quantdesk_backtests_per_s": round(ours_rate),
            "backtrader_backtests_per_s": round(bt_rate, 2),
            "backtrader_samples": args.backtrader_samples,
            "speedup_vs_backtrader": round(ours_rate / bt_rate),
            "fresh_process_s": round(fresh[-1], 2),
            "fresh_process_first_s": round(fresh[0], 2),
            "targets": {
                "ratio_to_raw_vectorbt": 1.5,
                "speedup_vs_backtrader": 300,
                "fresh_process_s": 8.0,
            },
        },
    )


if __name__ == "__main__":
    main()
