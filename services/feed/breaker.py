"""Back off from a failing quote source, and stop asking one that bans or keeps failing.

After a failure the next request waits ``base × 2^(n-1)`` seconds (capped, with
jitter). After ``trip_after`` failures in a row, or at once on a ban (HTTP 403,
456 or 429), the circuit opens: no request at all for ``cooldown_s``, then one
trial request; success closes it, failure opens it again for twice as long.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class BreakerConfig:
    base_s: float = 1.0
    max_backoff_s: float = 30.0
    trip_after: int = 5
    cooldown_s: float = 60.0
    max_cooldown_s: float = 900.0


class Breaker:
    """Failure bookkeeping of one source; times are the caller's monotonic seconds."""

    def __init__(self, config: BreakerConfig, rng: random.Random | None = None) -> None:
        self.config = config
        self.failures = 0  # in a row
        self.total_failures = 0
        self.open_until = 0.0
        self.next_at = 0.0
        self.last_error = ""
        self._cooldown = config.cooldown_s
        self._rng = rng or random.Random()

    def is_open(self, now: float) -> bool:
        return now < self.open_until

    def ready(self, now: float) -> bool:
        """May a request go out now?"""
        return now >= self.next_at and not self.is_open(now)

    def wait_s(self, now: float) -> float:
        return max(0.0, max(self.next_at, self.open_until) - now)

    def success(self) -> None:
        self.failures = 0
        self.open_until = 0.0
        self.next_at = 0.0
        self.last_error = ""
        self._cooldown = self.config.cooldown_s

    def failure(self, now: float, error: str, ban: bool = False) -> None:
        """Record a failed request; opens the circuit on a ban or too many in a row."""
        self.failures += 1
        self.total_failures += 1
        self.last_error = error
        c = self.config
        if ban or self.failures >= c.trip_after:
            was_open = self.open_until > 0
            self.open_until = now + self._cooldown
            self.next_at = self.open_until
            if was_open or ban:
                self._cooldown = min(self._cooldown * 2, c.max_cooldown_s)
            return
        delay = min(c.base_s * 2 ** (self.failures - 1), c.max_backoff_s)
        self.next_at = now + delay * (1 + 0.2 * self._rng.random())
