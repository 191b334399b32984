"""Background work yields the CPU to trading: one helper for the child processes that
run beside the trading process (the alert courier, the backup's store copier)."""

from __future__ import annotations

import contextlib
import os

NICE = 10  # where there is no SCHED_IDLE


def background() -> None:
    """Make this process background work. Linux's SCHED_IDLE yields a CPU at once to any
    normal thread that wakes (the bus's dispatcher, an order's submit), where nice 10
    only weighs the share; it still gets a small share of a CPU kept busy (a sweep), so
    background work is slowed, not stopped. Measured in bench/alert_burst.py and
    bench/backup.py."""
    with contextlib.suppress(OSError):
        os.nice(NICE)
    with contextlib.suppress(OSError, AttributeError):  # not on macOS
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
