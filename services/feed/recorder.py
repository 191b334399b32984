"""One-minute bars built from the live quotes, written to the store (``bars_1m``, source
``live``), so that the live-versus-backtest comparison and later research use exactly
what was seen.

Bars are built as the live runner builds them (:class:`BarBuilder`: a bar closes when
the first quote of a later minute arrives) and written in batches, once a minute and
at shutdown, from this recorder's own thread: a store write never delays the bus.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

import pandas as pd
from vnpy.event import Event

from services.store import Store, StoreError
from services.trading.live import FIELDS, BarBuilder

log = logging.getLogger("quantdesk.feed")
SOURCE = "live"


class BarRecorder:
    """Closed minute bars, buffered, then written per symbol in one batch."""

    def __init__(self, store: Store, every_s: float = 60.0) -> None:
        self.store = store
        self.every_s = every_s
        self.builder = BarBuilder(self._closed)
        self._pending: dict[str, list[tuple[datetime, dict[str, float]]]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.written = 0
        self.failed = ""  # the last write error, "" when none

    def on_tick(self, event: Event) -> None:
        """A bus handler (EVENT_TICK)."""
        tick = event.data
        if tick.last_price > 0 and not (tick.extra or {}).get("suspended"):
            self.builder.on_tick(tick)

    def _closed(self, vt_symbol: str, bar: dict[str, float], at: datetime) -> None:
        with self._lock:
            self._pending.setdefault(vt_symbol, []).append((at, dict(bar)))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="bar-recorder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.flush()

    def flush(self) -> int:
        """Write every buffered bar; returns how many were stored. A failed write keeps
        its bars buffered for the next try and is logged, never dropped silently."""
        with self._lock:
            pending, self._pending = self._pending, {}
        stored = 0
        for vt_symbol, rows in pending.items():
            frame = pd.DataFrame(
                [[bar[f] for f in FIELDS] for _, bar in rows],
                index=pd.DatetimeIndex([at for at, _ in rows]),
                columns=list(FIELDS),
            )
            try:
                result = self.store.write_bars(vt_symbol, "1m", frame, source=SOURCE)
            except (StoreError, OSError, ValueError) as exc:
                self.failed = str(exc)
                log.error("recorded bars of %s not stored yet (%s): kept to retry", vt_symbol, exc)
                with self._lock:
                    self._pending[vt_symbol] = rows + self._pending.get(vt_symbol, [])
                continue
            stored += result.stored
        self.written += stored
        if stored:
            log.info("stored %d recorded minute bars (source %s)", stored, SOURCE)
        return stored
