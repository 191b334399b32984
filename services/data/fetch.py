"""Resilient calls to a network source: timeout, retries with backoff, rate limit.

Every failure mode a data vendor produces ends the same way: a retry, and
after the last attempt one :class:`SourceError` that names the request and
the last reason, so the sync reports it per symbol and goes on with the rest.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TypeVar

from services.data.sources.base import SourceError
from services.settings import require

log = logging.getLogger("quantdesk.data")
T = TypeVar("T")


@dataclass(frozen=True)
class FetchConfig:
    """How quantdesk talks to data sources ([fetch] in config.toml)."""

    attempts: int = 3
    """Tries per request before the symbol is reported as failed."""
    backoff_s: float = 1.0
    """Wait before the 2nd try; doubles each further try."""
    timeout_s: float = 20.0
    """A request that takes longer than this is abandoned and retried."""
    min_interval_s: float = 0.3
    """At most one request per this many seconds (vendors ban aggressive clients)."""

    def __post_init__(self) -> None:
        require(1 <= self.attempts <= 10, "attempts", "must be 1-10")
        require(self.backoff_s >= 0, "backoff_s", "must be >= 0")
        require(self.timeout_s > 0, "timeout_s", "must be > 0")
        require(self.min_interval_s >= 0, "min_interval_s", "must be >= 0")


class NotRetryable(RuntimeError):
    """A refusal that another try cannot change (a bad token, a missing permission)."""


class EmptyResponse(ValueError):
    """The source answered with no rows where rows were expected."""


class Fetcher:
    """Runs source calls with a timeout, retries and a shared rate limit."""

    def __init__(self, config: FetchConfig, sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_at = 0.0
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="fetch")
        self.calls = 0

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """``fn()`` with the policy; raises SourceError after the last attempt."""
        last = ""
        offline = False
        for attempt in range(1, self.config.attempts + 1):
            offline = False
            self._throttle()
            self.calls += 1
            future = self._pool.submit(fn)
            try:
                return future.result(timeout=self.config.timeout_s)
            except FutureTimeout:
                last = f"timed out after {self.config.timeout_s:g} s"
            except NotRetryable as exc:
                raise SourceError(what, str(exc)) from None
            except EmptyResponse as exc:
                last = str(exc) or "empty response"
            except Exception as exc:  # vendors fail in every way: HTML pages, 5xx, bad JSON
                last = _describe(exc)
                offline = is_connection_error(exc)
            if attempt < self.config.attempts:
                delay = self.config.backoff_s * 2 ** (attempt - 1)
                log.warning("%s failed (%s); retry %d in %.1f s", what, last, attempt, delay)
                self._sleep(delay)
        raise SourceError(what, f"{last} (after {self.config.attempts} attempts)", offline=offline)

    def _throttle(self) -> None:
        with self._lock:
            now = time.monotonic()
            wait = self._next_at - now
            self._next_at = max(now, self._next_at) + self.config.min_interval_s
        if wait > 0:
            self._sleep(wait)


HOST_RE = re.compile(r"host='([^']+)'")


def is_connection_error(exc: BaseException) -> bool:
    """The network (not the vendor's data) is the problem: refused, unresolved, unreachable."""
    names = {t.__name__ for t in type(exc).__mro__}
    return bool(
        names & {"ConnectionError", "NewConnectionError", "NameResolutionError", "ConnectTimeout"}
    )


def _describe(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if is_connection_error(exc):
        host = HOST_RE.search(text)
        why = "name not resolved" if "NameResolution" in text or "resolve" in text else "no route"
        return f"cannot connect to {host.group(1) if host else 'the source'} ({why})"
    if "Expecting value" in text or "JSONDecodeError" in type(exc).__name__:
        return "the source answered with something that is not data (an HTML error page?)"
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__
