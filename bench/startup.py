"""Start-up: the ``quantdesk`` command → first painted screen, in a pseudo-terminal.

Spawns the installed command in a 160x48 pty and times until the header
("ACTIVE" or "HALTED") has been painted, then quits with q. The first run
warms the OS file cache and writes the data directory; the next ``--runs``
are reported. Also lists which heavy libraries the console imports before
the first paint (the ArcticDB worker opens the store right after it).
Target: <= 2 s warm.
"""

from __future__ import annotations

import argparse
import os
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import spawn_console, summary, write

HEAVY = ("vectorbt", "numba", "akshare", "arcticdb", "PySide6", "talib", "plotly")


def one_start(data_dir: Path) -> float:
    start = time.perf_counter()
    proc, master = spawn_console(data_dir, 48, 160)
    seen = b""
    elapsed = float("nan")
    deadline = start + 30
    while time.perf_counter() < deadline:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                seen += os.read(master, 65536)
            except OSError:
                break
            if b"ACTIVE" in seen or b"HALTED" in seen:
                elapsed = time.perf_counter() - start
                break
    os.write(master, b"q")
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    drain_until = time.perf_counter() + 0.5
    while time.perf_counter() < drain_until:
        if not select.select([master], [], [], 0.05)[0]:
            break
        try:
            os.read(master, 65536)
        except OSError:
            break
    os.close(master)
    return elapsed


def heavy_imports_before_first_paint() -> list[str]:
    code = (
        "import sys, console.cli, console.app, services.runtime\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
        check=True,
    )
    return [m for m in out.stdout.strip().split(",") if m]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="qd-bench-start-"))
    cold = one_start(data)
    warm = [one_start(data) for _ in range(args.runs)]
    write(
        "startup",
        {
            "first_run_s": round(cold, 3),
            "warm_s": summary(warm),
            "heavy_modules_imported_before_first_paint": heavy_imports_before_first_paint(),
            "target_warm_s": 2.0,
        },
    )


if __name__ == "__main__":
    main()
