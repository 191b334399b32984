"""Shared helpers for the benchmark scripts: percentiles and writing results."""

from __future__ import annotations

import fcntl
import json
import os
import platform
import statistics
import struct
import subprocess
import sys
import termios
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.trading.risk import RiskConfig

RESULTS = Path(__file__).resolve().parent / "results"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


P99_MIN_SAMPLES = 100  # below this, the 99th percentile of a sample is its maximum


def summary(values: list[float]) -> dict[str, float]:
    """n, p50, mean, max -- and p99 only when there are enough samples for it to be one:
    over 5-30 samples "p99" is just the maximum, so it is reported as that."""
    out = {
        "n": len(values),
        "p50": percentile(values, 50),
        "max": max(values) if values else float("nan"),
        "mean": statistics.fmean(values) if values else float("nan"),
    }
    if len(values) >= P99_MIN_SAMPLES:
        out["p99"] = percentile(values, 99)
    return out


def write(name: str, figures: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    record = {
        "benchmark": name,
        "at": datetime.now().isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        **figures,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record, indent=2))
    return path


QUANTDESK = Path(sys.executable).parent / "quantdesk"


def risk_off() -> RiskConfig:
    """Every rule that would refuse a bench's steady stream of orders turned off (the
    order checks and the loss limits stay): rates, duplicates, counts, exposure, and the
    quote's age (no new quotes come while an order loop runs)."""
    from services.trading.risk import RiskConfig

    return RiskConfig(
        max_orders_per_second=0,
        max_orders_per_minute=0,
        duplicate_window_s=0,
        max_active_orders=0,
        max_orders_per_day=0,
        max_cancels_per_symbol=0,
        stale_quote_s=0,
        max_position_pct=0,
        max_position_value=0,
        max_gross_exposure=0,
    )


def spawn_console(
    data_dir: Path, rows: int, cols: int, *args: str
) -> tuple[subprocess.Popen[bytes], int]:
    """The installed ``quantdesk`` in a ``cols`` x ``rows`` pseudo-terminal on ``data_dir``:
    the process and the pty's master end (read it to see what the console draws)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor"}
    proc = subprocess.Popen(
        [str(QUANTDESK), "--data-dir", str(data_dir), *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    return proc, master
