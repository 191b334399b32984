"""[feed] in config.toml: the live quote feed of paper mode."""

from __future__ import annotations

from dataclasses import dataclass

from services.feed import sina
from services.settings import require

SOURCES = ("sina",)


@dataclass(frozen=True)
class FeedConfig:
    """The live quote feed ([feed] in config.toml; used in paper mode)."""

    source: str = "sina"
    """Quote source: sina (batched Level-1 snapshots, up to 800 codes per request)."""
    url: str = sina.URL
    """The source's endpoint (change it only to point at a proxy or a test server)."""
    interval_s: float = 3.0
    """Seconds between polls during the sessions (Level-1 snapshots change about every 3 s)."""
    timeout_s: float = 2.0
    """Seconds before a request is abandoned."""
    stale_s: float = 15.0
    """A quote older than this is dimmed, refused by the stale-quote rule and never filled."""
    record: bool = False
    """Write every poll to <data dir>/recordings/<day>.jsonl.gz (replay with --mode replay)."""
    trip_after: int = 5
    """Failed polls in a row that open the circuit (a ban opens it at once)."""
    cooldown_s: float = 60.0
    """How long an open circuit sends nothing (doubles each time it re-opens, up to 15 min)."""

    def __post_init__(self) -> None:
        require(self.source in SOURCES, "source", f"must be one of {', '.join(SOURCES)}")
        require(self.url.startswith(("http://", "https://")), "url", "must be an http(s) URL")
        require(1.0 <= self.interval_s <= 60, "interval_s", "must be 1–60 seconds")
        require(0.2 <= self.timeout_s <= 30, "timeout_s", "must be 0.2–30 seconds")
        require(self.timeout_s < self.interval_s * 2, "timeout_s", "must be < 2 × interval_s")
        require(self.stale_s > self.interval_s, "stale_s", "must be longer than interval_s")
        require(1 <= self.trip_after <= 100, "trip_after", "must be 1–100")
        require(5 <= self.cooldown_s <= 3600, "cooldown_s", "must be 5–3600 seconds")
