"""Metrics against empyrical-reloaded (an independent oracle), the kernel against
vectorbt's own accounting, sweeps, sensitivity, and a walk-forward that provably
never looks at its out-of-sample bars."""

from __future__ import annotations

import empyrical
import numpy as np
import pandas as pd
import pytest
import vectorbt as vbt
from vectorbt.portfolio.enums import log_dt

import strategies
from services.accounting.costs import CostConfig
from services.backtest import metrics as m
from services.backtest.engine import Panel, Setup, run, sweep
from services.backtest.optimize import heatmap, sensitivity, walk_forward
from services.backtest.rules import BacktestConfig, rules_for

RULES = rules_for("600000.SSE", BacktestConfig(), CostConfig())
MA = strategies.get("ma_cross")


def walk(n: int, seed: int, drift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 10 * np.exp(np.cumsum(rng.normal(drift, 0.02, n)))
    open_ = close * (1 + rng.normal(0, 0.003, n))
    return pd.DataFrame(
        {
            "open": open_.round(2),
            "high": (np.maximum(open_, close) * 1.01).round(2),
            "low": (np.minimum(open_, close) * 0.99).round(2),
            "close": close.round(2),
            "volume": 1e6,
        },
        index=pd.bdate_range("2015-01-05", periods=n, name="datetime"),
    )


def test_metrics_agree_with_empyrical() -> None:
    result = run(MA, {"600000.SSE": walk(1500, 1)}, {"fast": 5, "slow": 20}, [RULES], Setup())
    assert result.metrics["trades"] > 10
    value = result.equity.to_numpy()
    r = pd.Series(m.returns_of(value.reshape(-1, 1), np.array([1e6]))[:, 0])
    got = result.metrics
    assert got["total_return"] == pytest.approx(empyrical.cum_returns_final(r), rel=1e-8)
    assert got["annual_return"] == pytest.approx(
        empyrical.annual_return(r, annualization=252), rel=1e-8
    )
    assert got["annual_volatility"] == pytest.approx(
        empyrical.annual_volatility(r, annualization=252), rel=1e-8
    )
    assert got["sharpe"] == pytest.approx(empyrical.sharpe_ratio(r, annualization=252), rel=1e-8)
    assert got["sortino"] == pytest.approx(empyrical.sortino_ratio(r, annualization=252), rel=1e-8)
    assert got["max_drawdown"] == pytest.approx(empyrical.max_drawdown(r), rel=1e-8)
    assert got["calmar"] == pytest.approx(empyrical.calmar_ratio(r, annualization=252), rel=1e-8)


def test_vectorbt_reads_the_kernels_orders_to_the_same_value_and_trades() -> None:
    frame = walk(800, 2)
    result = run(MA, {"600000.SSE": frame}, {"fast": 5, "slow": 20}, [RULES], Setup())
    panel = Panel.of({"600000.SSE": frame})
    entries, exits = MA.run_grid(frame, [MA.params({"fast": 5, "slow": 20})])
    from services.backtest.engine import simulate

    sim = simulate(panel, entries, exits, [RULES], Setup())
    close = pd.DataFrame({"600000.SSE": frame["close"]})
    wrapper = vbt.base.array_wrapper.ArrayWrapper.from_obj(close, freq="1D")
    pf = vbt.Portfolio(
        wrapper, close, sim.orders, np.empty(0, dtype=log_dt), 1e6, cash_sharing=False
    )
    np.testing.assert_allclose(pf.value().to_numpy().ravel(), result.equity.to_numpy(), rtol=1e-12)
    assert result.metrics["trades"] == len(result.trades)
    wins = (result.trades["pnl"] > 0).mean()
    assert result.metrics["win_rate"] == pytest.approx(wins)


def test_a_sweep_is_one_call_and_each_column_equals_its_own_run() -> None:
    frame = walk(600, 3)
    combos = MA.combinations({"fast": [3, 5, 8], "slow": [10, 20, 30]})
    result = sweep(MA, frame, combos, RULES, Setup(), metric="total_return")
    assert len(result.table) == 9 and result.axes == ["fast", "slow"]
    assert result.table["total_return"].is_monotonic_decreasing
    for row in result.table.head(3).itertuples():
        alone = run(MA, {"x.SSE": frame}, {"fast": row.fast, "slow": row.slow}, [RULES], Setup())
        assert alone.metrics["total_return"] == pytest.approx(row.total_return, rel=1e-12)
    grid = heatmap(result)
    assert grid.shape == (3, 3) and grid.loc[5.0, 20.0] == pytest.approx(
        result.table.set_index(["fast", "slow"]).loc[(5.0, 20.0), "total_return"]
    )


def test_sensitivity_compares_the_best_with_its_grid_neighbours() -> None:
    combos = MA.combinations({"fast": [3, 5, 8], "slow": [10, 20, 30]})
    result = sweep(MA, walk(600, 4), combos, RULES, Setup(), metric="total_return")
    table = result.table.set_index(["fast", "slow"])["total_return"]
    best = result.table.iloc[0]
    fi, si = [3, 5, 8].index(best["fast"]), [10, 20, 30].index(best["slow"])
    near = [
        table[(f, s)]
        for f in [3, 5, 8][max(fi - 1, 0) : fi + 2]
        for s in [10, 20, 30][max(si - 1, 0) : si + 2]
        if (f, s) != (best["fast"], best["slow"])
    ]
    got = sensitivity(result)
    assert got["neighbours"] == len(near)
    assert got["mean"] == pytest.approx(np.mean(near))
    assert got["hold"] == pytest.approx(np.mean(near) / best["total_return"])


def test_walk_forward_never_uses_its_out_of_sample_bars_to_choose() -> None:
    # B equals A until bar 700, then trends hard: whatever is best there is planted future.
    a = walk(1100, 5)
    b = a.copy()
    b.iloc[700:] = walk(400, 6, drift=0.01).to_numpy() * (a["close"].iloc[699] / 10)
    combos = MA.combinations({"fast": [3, 5, 10, 20], "slow": [10, 30, 60, 90]})
    wa = walk_forward(MA, "x.SSE", a, combos, RULES, Setup(), train=400, test=100)
    wb = walk_forward(MA, "x.SSE", b, combos, RULES, Setup(), train=400, test=100)
    cut = pd.Timestamp(a.index[700])
    before = wa.windows["test_start"] <= cut  # chosen from training bars ending at or before 700
    cols = ["train_start", "test_start", "fast", "slow", "in_sample"]
    pd.testing.assert_frame_equal(wa.windows.loc[before, cols], wb.windows.loc[before, cols])
    done = wa.windows["test_end"] < cut  # tested entirely before 700: identical results
    assert (wa.windows.loc[done, "out_of_sample"] == wb.windows.loc[done, "out_of_sample"]).all()
    assert before.sum() >= 3 and (~before).sum() >= 3
    later = ~before
    assert not wa.windows.loc[later, ["fast", "slow"]].equals(
        wb.windows.loc[later, ["fast", "slow"]]
    )
    # the stitched equity is continuous: each window ends flat (its last bar sells) and the
    # next starts with exactly that cash
    assert wa.equity.index.is_monotonic_increasing and len(wa.equity) == 1100 - 400
    eq, w = wa.equity, wa.windows
    assert w["start_cash"].iloc[0] == Setup().init_cash and (w["carried"] == 0).all()
    ends = [eq.loc[end] for end in w["test_end"].iloc[:-1]]
    assert list(w["start_cash"].iloc[1:]) == pytest.approx(ends)
    assert any(abs(e - Setup().init_cash) > 1 for e in ends)  # so a reset would be caught


def test_annualisation_uses_trading_days_not_calendar_days() -> None:
    value = np.array([[1.01], [1.0201]])
    got = m.compute(value, np.array([1.0]), np.zeros((1, 5)), ann_factor=252)
    assert got["annual_return"][0] == pytest.approx(1.01**252 - 1)
