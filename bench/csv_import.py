"""A 200 MB minute-bar CSV through ``quantdesk data import``: time and peak memory.

Peers, same file, same run, each in a fresh process (peak RSS of that process):

- ``pandas.read_csv`` of the whole file (parsing only: no validation, no store);
- quantdesk's earlier reader, which held the file's text, its lines and every field
  as Python strings at once (taken from git at the commit before the chunked reader).

Run: ``.venv/bin/python bench/csv_import.py [--mb 200]``; writes bench/results/csv_import.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import write  # noqa: E402

PANDAS = "import sys, pandas as pd; f = pd.read_csv(sys.argv[1]); print(len(f))"
OLD = """
import subprocess, sys, tempfile, pathlib
# the reader before chunking, straight from git, imported under another name
src = subprocess.run(["git", "-C", sys.argv[2], "show", "ca4844c:services/data/csvio.py"],
                     capture_output=True, text=True, check=True).stdout
path = pathlib.Path(tempfile.mkdtemp()) / "old_csvio.py"
path.write_text(src)
sys.path.insert(0, str(path.parent)); sys.path.insert(0, sys.argv[2])
import old_csvio
parsed = old_csvio.read_csv(pathlib.Path(sys.argv[1]))
print(len(parsed.bars))
"""


def make_file(path: Path, mb: int) -> int:
    """Minute bars (Date,Time,Open,High,Low,Close,Volume), about ``mb`` megabytes."""
    rng = np.random.default_rng(7)
    rows = int(mb * 1e6 / 52)
    start = np.datetime64("2010-01-04T09:31")
    minutes = start + np.arange(rows).astype("timedelta64[m]")
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.0005, rows)))
    with path.open("w") as fh:
        fh.write("Date,Time,Open,High,Low,Close,Volume\n")
        for lo in range(0, rows, 500_000):
            hi = min(rows, lo + 500_000)
            stamp = minutes[lo:hi].astype(str)
            c = close[lo:hi]
            lines = [
                f"{s[:10]},{s[11:16]},{o:.3f},{h:.3f},{low:.3f},{x:.3f},{v}\n"
                for s, o, h, low, x, v in zip(
                    stamp,
                    c * 0.9999,
                    c * 1.0005,
                    c * 0.9995,
                    c,
                    rng.integers(100, 100_000, hi - lo),
                    strict=True,
                )
            ]
            fh.writelines(lines)
    return rows


def measure(cmd: list[str]) -> dict[str, float]:
    """Wall time and the peak RSS of one child process, measured by a fresh waiter process
    (RUSAGE_CHILDREN keeps a maximum over all children, so each gets its own waiter)."""
    waiter = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "print(r.returncode, time.perf_counter() - t, "
        "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
        "sys.stderr.write(r.stderr[-500:])"
    )
    out = subprocess.run(
        [sys.executable, "-c", waiter, *cmd], capture_output=True, text=True, check=True
    )
    code, seconds, rss_kb = out.stdout.split()
    assert code == "0", out.stderr
    return {"seconds": round(float(seconds), 2), "peak_rss_mb": round(int(rss_kb) / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=200)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="qd-csv-bench-"))
    csv = work / "minutes.csv"
    t = time.perf_counter()
    rows = make_file(csv, args.mb)
    size_mb = csv.stat().st_size / 1e6
    print(f"wrote {size_mb:.0f} MB, {rows:,} rows in {time.perf_counter() - t:.1f} s", flush=True)
    env_cmd = [sys.executable, "-m", "console.cli", "--data-dir", str(work / "data")]
    os.environ["PYTHONPATH"] = str(ROOT)
    ours = measure([*env_cmd, "data", "import", str(csv), "--symbol", "X.US", "--freq", "1m"])
    reader = measure(
        [
            sys.executable,
            "-c",
            "import sys, pathlib; sys.path.insert(0, sys.argv[2]); "
            "from services.data.csvio import read_csv; "
            "print(len(read_csv(pathlib.Path(sys.argv[1])).bars))",
            str(csv),
            str(ROOT),
        ]
    )
    pandas = measure([sys.executable, "-c", PANDAS, str(csv)])
    old = measure([sys.executable, "-c", OLD, str(csv), str(ROOT)])
    write(
        "csv_import",
        {
            "file_mb": round(size_mb, 1),
            "rows": rows,
            "quantdesk_data_import": ours,
            "chunked_reader_alone": reader,
            "previous_whole_file_reader": old,
            "pandas_read_csv": pandas,
            "reader_peak_vs_previous": round(reader["peak_rss_mb"] / old["peak_rss_mb"], 3),
            "reader_peak_vs_pandas": round(reader["peak_rss_mb"] / pandas["peak_rss_mb"], 3),
            "reader_time_vs_pandas": round(reader["seconds"] / pandas["seconds"], 2),
        },
    )
    for path in sorted(work.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    work.rmdir()


if __name__ == "__main__":
    main()
