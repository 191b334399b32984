"""Numba's disk cache under the data directory, so only the first run compiles.

Numba reads its cache directory when a cached function is defined, so this
must run before ``services.backtest.kernel`` (or vectorbt) is imported.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("quantdesk.backtest")


def cache_dir_for(data_dir: Path) -> Path:
    """Where numba's cache is: ``<data_dir>/cache/numba``, or NUMBA_CACHE_DIR when set."""
    return Path(os.environ.get("NUMBA_CACHE_DIR") or data_dir / "cache" / "numba")


def enable_numba_cache(data_dir: Path) -> Path:
    """Point numba's cache at ``<data_dir>/cache/numba`` (kept if already chosen)."""
    path = cache_dir_for(data_dir)
    path.mkdir(parents=True, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = str(path)
    if "numba" in sys.modules:  # imported already: set its live config too
        from numba.core import config

        config.CACHE_DIR = str(path)  # type: ignore[attr-defined]
    return path


# -- warming: compile every kernel once, off the first real run's clock ------------------------
MARK = "warm.txt"
NUMBA_SOURCES = ("backtest/kernel.py", "backtest/dates_nb.py", "accounting/costs.py")


def signature() -> str:
    """What the cached kernels were compiled from: numba's and vectorbt's versions and the
    kernels' own source. Any change means numba compiles again, and so does the warm-up."""
    import hashlib
    from importlib.metadata import version

    digest = hashlib.sha256()
    for package in ("numba", "vectorbt", "numpy"):
        digest.update(f"{package}={version(package)};".encode())
    root = Path(__file__).resolve().parents[1]
    for name in NUMBA_SOURCES:
        digest.update((root / name).read_bytes())
    return digest.hexdigest()[:16]


def is_warm(cache_dir: Path) -> bool:
    """Whether the kernels in ``cache_dir`` were compiled from the installed code."""
    try:
        return (cache_dir / MARK).read_text(encoding="utf-8").strip() == signature()
    except OSError:
        return False


COMPILING = (
    "compiling the backtest engine (once after an install or upgrade: a minute or two on "
    "a busy machine; later runs start at once)"
)


def warm(cache_dir: Path) -> float:
    """Compile and cache every numba kernel a backtest uses -- a run, a sweep, an
    out-of-sample split, point-in-time dividends, A-share limits -- on a small synthetic
    history, then mark ``cache_dir`` warm. Returns the seconds it took."""
    import time

    import numpy as np
    import pandas as pd

    from services.accounting.costs import CostConfig
    from services.backtest.request import execute
    from services.backtest.rules import BacktestConfig
    from services.backtest.spec import Request
    from services.data.actions import Action, pit_frame

    began = time.perf_counter()
    days = pd.bdate_range("2020-01-02", periods=260)
    walk = 10 * np.exp(np.cumsum(np.random.default_rng(7).normal(0, 0.02, len(days))))
    raw = pd.DataFrame(
        {
            "open": walk,
            "high": walk * 1.01,
            "low": walk * 0.99,
            "close": walk,
            "volume": 1e6,
            "amount": walk * 1e6,
        },
        index=days,
    )
    pit = pit_frame("600000.SSE", raw, [], [Action(days[100].date(), cash=0.1)])
    config, costs = BacktestConfig(), CostConfig()
    for request in (
        Request("ma_cross", ("600000.SSE",), params={"fast": 5, "slow": 20}, oos=0.3),
        Request("ma_cross", ("600000.SSE",), grid={"fast": (3.0, 5.0), "slow": (10.0, 20.0)}),
    ):
        execute(request, lambda _symbol: pit.copy(), config, costs)
    cache_dir.mkdir(parents=True, exist_ok=True)
    (cache_dir / MARK).write_text(signature() + "\n", encoding="utf-8")
    return time.perf_counter() - began


def ensure_warm(cache: Path, say: Callable[[str], None]) -> None:
    """When the kernels' cache is cold, ``say`` so (the wait that follows is numba
    compiling, not a hung run) and warm it. ``cache``: :func:`enable_numba_cache`'s."""
    if not is_warm(cache):
        say(COMPILING)
        seconds = warm(cache)
        log.info("backtest engine compiled in %.1f s (cached in %s)", seconds, cache)
