"""``quantdesk halt`` from another shell against an instance whose main thread is busy.

A console-like process runs the services (500 working orders) while its main
thread spins in pure Python -- an unresponsive UI. Another process runs the
real ``quantdesk halt`` command; the clock runs from launching it to its exit
(interpreter start included), and the instance's journal must then say HALTED
with every order cancelled. Target: within one second.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import summary, write

ROOT = Path(__file__).resolve().parents[1]

BUSY = r"""
import sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from bench.kill_switch import NO_LIMITS
from services.accounting.costs import CostConfig
from services.events import OrderIntent
from services.runtime import AccountConfig, build_services
from services.venues.simulator import SimConfig
svc = build_services(Path(sys.argv[1]), sim=SimConfig(), costs=CostConfig(),
                     account=AccountConfig(initial_cash=1e12), paced=False, risk=NO_LIMITS)
svc.start()
svc.gateway.advance(5); svc.bus.wait_idle()
tick = svc.market.get("600519.SSE")
for i in range(500):
    svc.orders.submit(OrderIntent(f"h{{i}}", "600519.SSE", "buy", "limit", 100,
                                  round(tick.limit_down + 0.01 * (i % 50), 2)))
svc.bus.wait_idle()
print("ready", flush=True)
x = 0
while True:  # the unresponsive UI: pure Python, never sleeping
    x = (x * 31 + 7) % 1000003
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    quantdesk = Path(sys.executable).parent / "quantdesk"
    times, cancels = [], []
    for _ in range(args.runs):
        data = Path(tempfile.mkdtemp(prefix="qd-bench-halt-"))
        busy = subprocess.Popen(
            [sys.executable, "-c", BUSY.format(root=str(ROOT)), str(data)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert busy.stdout is not None and busy.stdout.readline().strip() == "ready"
            time.sleep(0.5)
            start = time.perf_counter()
            out = subprocess.run(
                [str(quantdesk), "--data-dir", str(data), "halt"],
                capture_output=True,
                text=True,
                timeout=30,
            )
            times.append(time.perf_counter() - start)
            assert out.returncode == 0 and out.stdout.startswith("halted the running"), out
            cancels.append(int(out.stdout.split("(")[1].split()[0]))
        finally:
            busy.kill()
            busy.wait()
    write(
        "halt",
        {
            "working_orders": 500,
            "command_to_exit_s": summary(times),
            "cancels_reported": cancels,
            "target_s": 1.0,
        },
    )


if __name__ == "__main__":
    main()
