"""The kill switch fires where keys arrive, before the App's message queue.

Textual delivers every key (from the terminal's input thread, or from Pilot
in tests) through ``Driver.send_message``. The tap wraps that method: the
kill key calls ``Services.kill_switch`` right there, in the calling thread,
then a :class:`KillSwitchFired` message goes to the App instead of the key.
So a busy UI (a flood of order updates, a slow repaint) cannot delay the
halt and the cancels; the UI only shows what already happened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from textual import events
from textual.driver import Driver
from textual.message import Message

from panes.keymap import normal_key

log = logging.getLogger("quantdesk.ui")


@dataclass
class KillSwitchFired(Message, bubble=False):
    cancelled: list[str]


def install(driver: Driver, keys: frozenset[str], fire: Callable[[], list[str]]) -> None:
    """Make ``keys`` fire ``fire`` (the kill switch) inside ``driver.send_message``; keys
    compare as one spelling (``Ctrl+X`` is ``ctrl+x``, ``?`` is ``question_mark``)."""
    send = driver.send_message
    wanted = frozenset(normal_key(k) for k in keys)

    def send_message(message: Message) -> None:
        if isinstance(message, events.Key) and normal_key(message.key) in wanted:
            try:
                cancelled = fire()
            except Exception:  # the UI must hear about a kill switch that failed
                log.exception("KILL SWITCH FAILED")
                raise
            send(KillSwitchFired(cancelled))
            return
        send(message)

    driver.send_message = send_message  # type: ignore[method-assign]
