"""Where raw quote responses come from: the source over HTTP, or a recording of it.

Both give :class:`RawPoll` records: the exact body the source sent (or the
failure), stamped with the exchange time of the request. The gateway parses
them the same way whichever produced them, which is what makes a replay the
same session as the one recorded.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from services.feed import sina

log = logging.getLogger("quantdesk.feed")

BAN_STATUSES = (403, 429, 456)  # Sina answers 403 (and Eastmoney 456) to clients it bans


@dataclass(frozen=True)
class RawPoll:
    """One request and what came back: a body, or an error that says what failed."""

    at: str  # exchange time of the request, ISO 8601
    symbols: tuple[str, ...]
    status: int = 0  # HTTP status; 0 when no response arrived
    body: str = ""
    error: str = ""  # "" when a response arrived (its status and body say the rest)
    elapsed_ms: float = 0.0

    @property
    def time(self) -> datetime:
        return datetime.fromisoformat(self.at)

    @property
    def ban(self) -> bool:
        return self.status in BAN_STATUSES

    def problem(self) -> str:
        """Why this response cannot be parsed as quotes, or "" when it may be."""
        if self.error:
            return self.error
        if self.status != 200:
            kind = "banned (the source refuses this client)" if self.ban else "error"
            return f"HTTP {self.status} {kind}"
        if not self.body.strip():
            return "empty response"
        if self.body.lstrip()[:1] == "<":
            return "an HTML page instead of quotes"
        return ""


class HttpSource:
    """Sina's quote endpoint over ``requests``, with a per-request timeout."""

    name = sina.NAME

    def __init__(self, url: str, timeout_s: float) -> None:
        import requests

        self.url = url
        self.timeout_s = timeout_s
        self._session = requests.Session()
        self._session.headers.update(sina.HEADERS)

    def fetch(self, symbols: list[str], at: datetime) -> RawPoll:
        import requests

        start = time.perf_counter()
        stamp = at.isoformat(timespec="milliseconds")
        try:
            response = self._session.get(
                sina.request_url(symbols, self.url), timeout=self.timeout_s
            )
            body = sina.decode(response.content)
        except requests.Timeout:
            return RawPoll(stamp, tuple(symbols), error=f"timed out after {self.timeout_s:g} s")
        except requests.RequestException as exc:
            why = "connection dropped" if _dropped(exc) else "cannot connect"
            return RawPoll(stamp, tuple(symbols), error=f"{why}: {type(exc).__name__}")
        elapsed = (time.perf_counter() - start) * 1000
        return RawPoll(stamp, tuple(symbols), response.status_code, body, "", round(elapsed, 1))

    def close(self) -> None:
        self._session.close()


def _dropped(exc: Exception) -> bool:
    import requests

    text = str(exc)
    return isinstance(exc, requests.exceptions.ChunkedEncodingError) or (
        "RemoteDisconnected" in text or "reset by peer" in text or "IncompleteRead" in text
    )


class Recorder:
    """Appends every poll to a gzip JSON-lines file, flushed per poll (a crash loses at
    most the poll being written; the reader stops cleanly at a torn end)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: gzip.GzipFile | None = gzip.open(path, "ab")  # noqa: SIM115 (kept open)
        self.polls = 0
        self.failed = ""  # why recording stopped (a full disk, say); "" while it records

    def write(self, poll: RawPoll) -> None:
        """Append one poll. A failed write (a full disk) stops the recording, logged once;
        the feed itself goes on -- quotes matter more than their copy."""
        if self._file is None:
            return
        line = json.dumps(asdict(poll), ensure_ascii=False, separators=(",", ":")) + "\n"
        try:
            self._file.write(line.encode())
            self._file.flush()
        except OSError as exc:
            self.failed = f"recording to {self.path} stopped: {exc.strerror or exc}"
            log.error("%s (the feed goes on; %d polls were recorded)", self.failed, self.polls)
            self._abandon()
            return
        self.polls += 1

    def _abandon(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            with contextlib.suppress(OSError):
                file.close()

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError as exc:
                log.error("closing the recording %s failed: %s", self.path, exc)
            self._file = None


class RecordingError(ValueError):
    """A file that is not a quantdesk recording."""


def read_recording(path: Path) -> Iterator[RawPoll]:
    """The polls of a recording in order. A torn last record (the recorder was killed)
    ends the iteration with a warning; anything else unreadable is an error."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                try:
                    doc: dict[str, Any] = json.loads(line)
                    doc["symbols"] = tuple(doc.get("symbols", ()))
                    yield RawPoll(**doc)
                except (json.JSONDecodeError, TypeError) as exc:
                    if not line.endswith("\n"):
                        log.warning("%s: the last record is torn; replay stops before it", path)
                        return
                    raise RecordingError(f"{path}: record {n} is not a poll: {exc}") from None
    except EOFError:
        log.warning("%s ends mid-record (the recorder was stopped hard)", path)
    except (OSError, gzip.BadGzipFile) as exc:
        if isinstance(exc, gzip.BadGzipFile) or "Not a gzipped file" in str(exc):
            raise RecordingError(f"{path}: not a quantdesk recording (gzip JSON lines)") from None
        raise
