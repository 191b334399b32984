"""Trading state: ACTIVE → REDUCING → HALTED, persisted across restarts.

A HALT is lifted only by :meth:`TradingControl.rearm` with the typed
confirmation word; the UI asks the user to type it.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime

from services.bus import Bus
from services.events import EVENT_TRADING_STATE_CHANGED, TradingState, TradingStateChanged
from services.journal import Journal

log = logging.getLogger("quantdesk.control")

STATE_KEY = "trading_state"
REARM_WORD = "ARM"


class RearmRefused(ValueError):
    """Re-arming needs the exact confirmation word."""


class TradingControl:
    """Holds the trading state; every change is journaled, persisted and published."""

    def __init__(self, journal: Journal, bus: Bus) -> None:
        self._journal = journal
        self._bus = bus
        self._lock = threading.Lock()
        self.state = TradingState.ACTIVE
        self.reason = ""
        self.since = datetime.now()
        saved = journal.get_state(STATE_KEY)
        if saved:
            data = json.loads(saved)
            self.state = TradingState[data["state"]]
            self.reason = data.get("reason", "")
            self.since = datetime.fromisoformat(data["at"])

    def set_state(self, state: TradingState, reason: str) -> TradingStateChanged:
        with self._lock:
            change = TradingStateChanged(state, self.state, reason, datetime.now())
            self.state, self.reason, self.since = state, reason, change.at
            payload = {"state": state.name, "reason": reason, "at": change.at.isoformat()}
            self._journal.set_state(STATE_KEY, json.dumps(payload))
            self._journal.record("state", state.name, {**payload, "previous": change.previous.name})
        log.warning("trading state %s → %s: %s", change.previous.name, state.name, reason)
        self._bus.publish(EVENT_TRADING_STATE_CHANGED, change)
        return change

    def halt(self, reason: str) -> TradingStateChanged:
        return self.set_state(TradingState.HALTED, reason)

    def rearm(self, confirmation: str) -> TradingStateChanged:
        """Back to ACTIVE, only if ``confirmation`` is the confirmation word."""
        if confirmation.strip() != REARM_WORD:
            raise RearmRefused(f"type {REARM_WORD} to re-arm trading")
        return self.set_state(TradingState.ACTIVE, "re-armed by the user")
