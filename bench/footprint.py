"""The console's footprint on the default demo: CPU and bytes written to the terminal.

Spawns the installed ``quantdesk`` in a 160x48 pseudo-terminal on a fresh data
directory (the default demo: 20 instruments, 40 ticks a second, the demo strategy),
lets it settle, then measures for ``--seconds``: the process's CPU time (all threads,
and the UI thread alone, from /proc) and the bytes it wrote to the terminal. Then the
same at 120x40, the other size the README promises.

Targets (issue 10): <= 15 % of one core, <= 40 KB/s to the terminal.
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

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import spawn_console, write


def drain(master: int, seconds: float) -> int:
    """Read what the console writes for ``seconds``; the number of bytes."""
    total = 0
    deadline = time.perf_counter() + seconds
    while (left := deadline - time.perf_counter()) > 0:
        ready, _, _ = select.select([master], [], [], min(left, 0.05))
        if ready:
            try:
                total += len(os.read(master, 1 << 16))
            except OSError:
                break
    return total


def ui_thread_ticks(pid: int) -> float:
    """CPU seconds of the process's main thread (the Textual event loop)."""
    fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    rows: int,
    cols: int,
    settle: float,
    seconds: float,
    *args: str,
    data_dir: Path | None = None,
) -> dict[str, float | str]:
    """CPU and terminal bytes of ``quantdesk *args`` over ``seconds`` after ``settle``."""
    data = data_dir or Path(tempfile.mkdtemp(prefix="qd-footprint-"))
    proc, master = spawn_console(data, rows, cols, *args)
    try:
        drain(master, settle)  # start-up, demo history, the first screens
        p = psutil.Process(proc.pid)
        cpu0, ui0, t0 = sum(p.cpu_times()[:2]), ui_thread_ticks(proc.pid), time.perf_counter()
        written = drain(master, seconds)
        elapsed = time.perf_counter() - t0
        cpu = sum(p.cpu_times()[:2]) - cpu0
        ui = ui_thread_ticks(proc.pid) - ui0
    finally:
        os.write(master, b"q")
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        os.close(master)
    return {
        "size": f"{cols}x{rows}",
        "seconds": round(elapsed, 1),
        "process_cpu_pct": round(100 * cpu / elapsed, 1),
        "ui_thread_cpu_pct": round(100 * ui / elapsed, 1),
        "terminal_kb_per_s": round(written / elapsed / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=12.0)
    args = parser.parse_args()
    runs = [
        measure(48, 160, args.settle, args.seconds),
        measure(40, 120, args.settle, args.seconds),
    ]
    for run in runs:
        print(run)
    write(
        "footprint",
        {"runs": runs, "targets": {"process_cpu_pct": 15, "terminal_kb_per_s": 40}},
    )


if __name__ == "__main__":
    main()
