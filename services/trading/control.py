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
from services.records.journal import TRADING_STATE_KEY, Journal, JournalError

log = logging.getLogger("quantdesk.control")

REARM_WORD = "ARM"
STRICTNESS = {"ACTIVE": 0, "REDUCING": 1, "HALTED": 2}


class RearmRefused(ValueError):
    """Re-arming needs the exact confirmation word."""


class TradingControl:
    """Holds the trading state; every change is journaled, persisted and published."""

    def __init__(self, journal: Journal, bus: Bus, account: str = "") -> None:
        self.account = account  # a live account's id: its state alone (services.trading.desk)
        self._journal = journal
        self._bus = bus
        self._lock = threading.Lock()
        self.state = TradingState.ACTIVE
        self.reason = ""
        self.since = datetime.now()
        self.journal_error = ""  # set when a journal write failed (trading HALTed for it)
        saved = journal.trading_state()
        if saved is not None:
            self.state = TradingState[saved[0]]
            self.reason = saved[1]
            self.since = datetime.fromisoformat(saved[2])
        earlier = journal.earlier_failure()
        if earlier:  # the HALT of that session could not be persisted: it is now
            why = (
                f"a journal write failed in an earlier session ({earlier}): trading was "
                "HALTED then; check the account (quantdesk state), then re-arm"
            )
            if journal.readonly:
                self.state, self.reason = TradingState.HALTED, why
            else:
                try:
                    self.halt(why)
                    journal.clear_failure()
                except JournalError:
                    pass  # still cannot be written: HALTED in memory, the mark stays

    def obey_persisted(self) -> TradingStateChanged | None:
        """Take up a stricter state written to the journal by another process (``quantdesk
        halt`` while this one could not answer: stopped, busy, its socket flooded); the
        change, or None. Never loosens: a re-arm happens here, by the user."""
        try:
            saved = self._journal.trading_state()
        except JournalError:
            return None  # unreadable now: the write path halts on the journal's failure
        if saved is None or STRICTNESS[saved[0]] <= STRICTNESS[self.state.name]:
            return None
        state = TradingState[saved[0]]
        with self._lock:
            change = TradingStateChanged(state, self.state, saved[1], datetime.now(), self.account)
            self.state, self.reason, self.since = state, saved[1], change.at
        log.warning("trading state %s from the journal (set elsewhere): %s", state.name, saved[1])
        self._bus.publish(EVENT_TRADING_STATE_CHANGED, change)
        return change

    def set_state(self, state: TradingState, reason: str) -> TradingStateChanged:
        if self.journal_error and state is not TradingState.HALTED:
            raise RearmRefused(f"the journal cannot be written ({self.journal_error}): restart")
        with self._lock:
            change = TradingStateChanged(state, self.state, reason, datetime.now(), self.account)
            payload = {"state": state.name, "reason": reason, "at": change.at.isoformat()}
            try:
                self._journal.set_state(
                    TRADING_STATE_KEY,
                    json.dumps(payload),
                    ("state", state.name, {**payload, "previous": change.previous.name}),
                )
            except JournalError:
                if state is not TradingState.HALTED:
                    raise  # only a halt may go ahead without the journal
                log.critical("HALT could not be journaled; trading is HALTED in memory")
            self.state, self.reason, self.since = state, reason, change.at
        log.warning(
            "%strading state %s → %s: %s",
            f"account {self.account}: " if self.account else "",
            change.previous.name,
            state.name,
            reason,
        )
        self._bus.publish(EVENT_TRADING_STATE_CHANGED, change)
        return change

    def halt(self, reason: str) -> TradingStateChanged:
        return self.set_state(TradingState.HALTED, reason)

    def journal_failed(self, message: str) -> TradingStateChanged:
        """The journal cannot be written (a full disk, I/O): HALT in memory at once.

        The order path writes ahead, so nothing may go out without the journal. The
        state cannot be persisted through the failed journal; it is published so the
        screen says why, and :attr:`journal_error` keeps the App from saying "stopped
        cleanly". Working orders are left at the venue: cancelling them would have to
        be journaled first.
        """
        reason = f"JOURNAL WRITE FAILED: {message}. Nothing more is sent; free space, then restart"
        with self._lock:
            change = TradingStateChanged(
                TradingState.HALTED, self.state, reason, datetime.now(), self.account
            )
            self.state, self.reason, self.since = TradingState.HALTED, reason, change.at
            self.journal_error = message
        log.critical("trading HALTED: %s", message)
        self._bus.publish(EVENT_TRADING_STATE_CHANGED, change)
        return change

    def rearm(self, confirmation: str) -> TradingStateChanged:
        """Back to ACTIVE, only if ``confirmation`` is the confirmation word."""
        if confirmation.strip() != REARM_WORD:
            raise RearmRefused(f"type {REARM_WORD} to re-arm trading")
        return self.set_state(TradingState.ACTIVE, "re-armed by the user")
