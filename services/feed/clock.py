"""Exchange time for the live feed: the wall clock in Shanghai, or a recording's own."""

from __future__ import annotations

import threading
import time
from datetime import datetime

from services.feed.sessions import exchange_now


class WallClock:
    """Now in exchange time; sleeping waits on ``stop`` so that closing is immediate."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop

    def now(self) -> datetime:
        return exchange_now()

    def sleep(self, seconds: float) -> bool:
        """Wait; False when stopped meanwhile."""
        return not self._stop.wait(max(0.0, seconds))


class ReplayClock:
    """A recording's time: it stands at the poll being replayed, and moves to the next
    one after ``(next - current) / speed`` real seconds (at once when speed is 0)."""

    def __init__(self, stop: threading.Event, speed: float, start: datetime | None = None) -> None:
        self._stop = stop
        self.speed = speed
        self._at = start
        self._real = time.perf_counter()

    def now(self) -> datetime:
        return self._at or exchange_now()

    def sleep(self, seconds: float) -> bool:
        return not self._stop.wait(max(0.0, seconds)) if self.speed else not self._stop.is_set()

    def advance_to(self, at: datetime) -> bool:
        """Wait the scaled gap to ``at`` (paced from the previous step, so that the time
        spent handling a poll is not added to it), then stand there; False when stopped."""
        if self._at is not None and self.speed and at > self._at:
            due = self._real + (at - self._at).total_seconds() / self.speed
            if self._stop.wait(max(0.0, due - time.perf_counter())):
                return False
            self._real = max(due, time.perf_counter() - 0.25)  # late: catch up, don't burst
        else:
            self._real = time.perf_counter()
        self._at = at
        return not self._stop.is_set()
