"""The MA sweep against its physical limit: one hand-written numba loop (issue 12).

The same work as ``backtest_sweep.py``'s quantdesk sweep -- the 4,851 (fast, slow)
pairs of windows 2-100 on the last 2,500 daily bars of ORCL, signals executed at the
next open, A-share lots and costs (5 CNY minimum commission, stamp duty on sells,
transfer fee, each fee rounded to the cent), all equity in each entry, and the same 11
metrics -- written as one compiled loop per combination: crossings, fills and the
metrics accumulated on the fly, over the 99 moving averages computed once as the
strategy computes them (pandas' rolling mean, so every crossing is the same one). No
arrays of signals, no value curves, no Python between combinations. Same warm-up (compiled
first), same repeats (best of N). The figures: both times, the ratio, and how many
combinations agree with quantdesk's table (total return, Sharpe and trade count).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from numba import njit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.backtest_sweep import best_of, load, ours  # noqa: E402
from bench.common import write  # noqa: E402
from services.backtest.kernel import affordable_nb, fees_nb  # noqa: E402

ANN = 252.0


@njit(cache=True)
def sweep_nb(
    open_: np.ndarray,
    close: np.ndarray,
    ma: np.ndarray,
    fast: np.ndarray,
    slow: np.ndarray,
    cash0: float,
    costs: np.ndarray,
) -> np.ndarray:
    """One row per (fast, slow) pair: total return, sharpe, trades (and the rest)."""
    n = close.shape[0]
    lot, c_rate, c_min, s_buy, s_sell, transfer = (
        costs[0],
        costs[1],
        costs[2],
        costs[3],
        costs[4],
        costs[5],
    )
    out = np.full((fast.shape[0], 11), np.nan)
    for k in range(fast.shape[0]):
        f, s = fast[k], slow[k]
        cash, pos, entry_cost = cash0, 0.0, 0.0
        prev_value, peak, mdd = cash0, cash0, 0.0
        r_sum, r_sq, down_sq = 0.0, 0.0, 0.0
        trades, wins, profit, loss, held = 0, 0, 0.0, 0.0, 0
        enter, leave = False, False  # yesterday's signals, executed at today's open
        prev_f, prev_s = np.nan, np.nan
        for i in range(n):
            o = open_[i]
            closed = False
            if pos > 0 and leave:
                fee = fees_nb(pos, o, True, c_rate, c_min, s_buy, s_sell, transfer)
                cash += pos * o - fee
                pnl = pos * o - fee - entry_cost
                trades += 1
                if pnl > 0:
                    wins += 1
                    profit += pnl
                else:
                    loss -= pnl
                pos = 0.0
                closed = True
            if pos == 0 and not closed and enter:
                equity = cash
                size = affordable_nb(equity / o, o, cash, lot, c_rate, c_min, s_buy, transfer)
                if size > 0:
                    fee = fees_nb(size, o, False, c_rate, c_min, s_buy, s_sell, transfer)
                    cash -= size * o + fee
                    pos = size
                    entry_cost = size * o + fee
            value = cash + pos * close[i]
            if pos > 0:
                held += 1
            r = value / prev_value - 1.0
            r_sum += r
            r_sq += r * r
            if r < 0:
                down_sq += r * r
            prev_value = value
            peak = max(peak, value)
            mdd = min(mdd, value / peak - 1.0)
            # today's signals, for tomorrow's open
            mf, ms = ma[i, f], ma[i, s]
            enter = mf > ms and prev_f <= prev_s
            leave = mf < ms and prev_f >= prev_s
            prev_f, prev_s = mf, ms
        total = prev_value / cash0 - 1.0
        mean = r_sum / n
        var = (r_sq - n * mean * mean) / (n - 1)
        std = math.sqrt(max(var, 0.0))
        annual = (1.0 + total) ** (ANN / n) - 1.0 if total > -1 else -1.0
        downside = math.sqrt(down_sq / n) * math.sqrt(ANN)
        out[k, 0] = total
        out[k, 1] = annual
        out[k, 2] = std * math.sqrt(ANN)
        out[k, 3] = mean / std * math.sqrt(ANN) if std > 0 else np.nan
        out[k, 4] = mean * ANN / downside if downside > 0 else np.nan
        out[k, 5] = mdd
        out[k, 6] = annual / abs(mdd) if mdd < 0 else np.nan
        out[k, 7] = wins / trades if trades > 0 else np.nan
        out[k, 8] = profit / loss if loss > 0 else np.nan
        out[k, 9] = trades
        out[k, 10] = held / n
    return out


def hand(bars, fast: np.ndarray, slow: np.ndarray, costs: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Moving averages as the strategy computes them (pandas' rolling mean, so that every
    crossing is the same one), one column per window, then the loop."""
    close = bars["close"]
    ma = np.full((len(close), 101), np.nan)
    for w in range(2, 101):
        ma[:, w] = close.rolling(w).mean().to_numpy()
    return sweep_nb(
        bars["open"].to_numpy(dtype=float),
        close.to_numpy(dtype=float),
        ma,
        fast,
        slow,
        1_000_000.0,
        costs,
    )


def main() -> None:
    from services.accounting.costs import CostConfig
    from services.backtest.rules import BacktestConfig, rules_for

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bars = load()
    ref = ours(bars).table  # compiles (or loads) quantdesk's kernel
    fast = ref["fast"].to_numpy(dtype=np.int64)
    slow = ref["slow"].to_numpy(dtype=np.int64)
    costs = np.array(rules_for("600000.SSE", BacktestConfig(), CostConfig()).row(), dtype=float)
    got = hand(bars, fast, slow, costs)  # compiles the hand-written loop
    ours_s = best_of(lambda: ours(bars), args.repeat)
    hand_s = best_of(lambda: hand(bars, fast, slow, costs), args.repeat)
    same_total = np.isclose(got[:, 0], ref["total_return"], rtol=0, atol=1e-9)
    same_sharpe = np.isclose(got[:, 3], ref["sharpe"], rtol=1e-7, atol=1e-9, equal_nan=True)
    same_trades = got[:, 9] == ref["trades"].to_numpy()
    write(
        "sweep_limit",
        {
            "bars": len(bars),
            "combinations": len(ref),
            "quantdesk_s": round(ours_s, 3),
            "hand_written_numba_s": round(hand_s, 4),
            "ratio_quantdesk_to_hand": round(ours_s / hand_s, 1),
            "agree_total_return": int(same_total.sum()),
            "agree_sharpe": int(same_sharpe.sum()),
            "agree_trades": int(same_trades.sum()),
            "repeats": args.repeat,
        },
    )


if __name__ == "__main__":
    main()
