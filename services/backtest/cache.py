"""Numba's disk cache under the data directory, so only the first run compiles.

Numba reads its cache directory when a cached function is defined, so this
must run before ``services.backtest.kernel`` (or vectorbt) is imported.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def enable_numba_cache(data_dir: Path) -> Path:
    """Point numba's cache at ``<data_dir>/cache/numba`` (kept if already chosen)."""
    path = Path(os.environ.get("NUMBA_CACHE_DIR") or data_dir / "cache" / "numba")
    path.mkdir(parents=True, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = str(path)
    if "numba" in sys.modules:  # imported already: set its live config too
        from numba.core import config

        config.CACHE_DIR = str(path)  # type: ignore[attr-defined]
    return path
