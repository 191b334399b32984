"""Keys are applied in the order they were typed, one at a time.

Textual 8.2.8 (Textual issue #6605, open) lets keys that arrive together overtake
each other: an Input handles a printable key in its own ``_on_key`` (the first
hop), while Backspace, Left, Tab or Enter are *bindings*, run only after the key
has bubbled Input -> containers -> Screen -> App, one message queue per hop. So
Backspace x4 then "100" sent in one burst turned "5123" into "512" (the digits
were typed before the deletions ran), and "100" after a Tab landed in the field
it was leaving.

:class:`OrderedKeys` (mixed into the App) holds a key until the one before it is
finished -- stopped by the widget that used it, or run as a binding when it
reached the App -- and the screen has refreshed (so a dialog the key opened has
its focus before the next key is sent). A key nobody stops or bubbles (its widget
was removed on the way) is released after :data:`RELEASE_AFTER` seconds. Keys
typed at human speed never wait: a key waits only behind one still in flight.
The kill key is not a key here at all: the kill tap (console/killtap.py) fires
it where keys arrive, ahead of everything.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import TYPE_CHECKING, Any

from textual import events
from textual.app import App, ScreenError
from textual.dom import NoScreen
from textual.message import Message
from textual.message_pump import MessagePump

if TYPE_CHECKING:
    from textual.timer import Timer

RELEASE_AFTER = 1.0  # seconds: a key lost on the way (its widget removed) frees the next
SETTLE_ROUNDS = 4  # a key that opens a dialog: the screen changes, then its focus


class OrderedKey(events.Key):
    """A key the App tracks to its end: ``stop()`` (a widget used it) reports it done.
    Handlers see a Key (``on_key``, ``@on(events.Key)``)."""

    def __init__(self, key: str, character: str | None, order: OrderedKeys) -> None:
        super().__init__(key, character)
        self._order = order

    def stop(self, stop: bool = True) -> Message:
        super().stop(stop)
        if stop:
            # after the handler that stopped it returns: it may still move the focus
            self._order.call_later(self._order.key_finished, self)
        return self


OrderedKey.handler_name = events.Key.handler_name  # (set after the class: Message renames it)


class OrderedKeys:
    """App mixin: one key in flight at a time, the rest wait in arrival order."""

    _key_in_flight: OrderedKey | None = None
    _keys_waiting: deque[events.Key]
    _key_release: Timer | None = None
    _settling: asyncio.Task[None] | None = None  # (a reference keeps the task alive)

    # provided by textual.App
    call_later: Any
    call_after_refresh: Any
    set_timer: Any

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, OrderedKey):  # it bubbled back: the App's bindings run now
            try:
                await super().on_event(event)  # type: ignore[misc]
            finally:
                self.key_finished(event)
            return
        if isinstance(event, events.Key) and not event.is_forwarded:
            if not hasattr(self, "_keys_waiting"):
                self._keys_waiting = deque()
            if self._key_in_flight is not None or self._keys_waiting:
                self._keys_waiting.append(event)
                return
            await self._send_key(event)
            return
        await super().on_event(event)  # type: ignore[misc]

    async def _send_key(self, event: events.Key) -> None:
        key = OrderedKey(event.key, event.character, self)
        key.set_sender(self)  # type: ignore[arg-type]
        self._key_in_flight = key
        target = self.focused or self.screen  # type: ignore[attr-defined]
        await super().on_event(key)  # type: ignore[misc]  # priority bindings, then forward
        if not key.is_forwarded or not target.check_message_enabled(key):
            # a priority binding used it, escape un-maximised, or its widget takes no keys
            self.key_finished(key)
        elif self._key_in_flight is key:
            self._key_release = self.set_timer(RELEASE_AFTER, lambda: self.key_finished(key))

    def key_finished(self, key: OrderedKey) -> None:
        """``key`` is done; the next waiting key goes once what it started has settled."""
        if key is not self._key_in_flight:
            return
        self._key_in_flight = None
        if self._key_release is not None:
            self._key_release.stop()
            self._key_release = None
        if getattr(self, "_keys_waiting", None):
            self._settling = asyncio.create_task(self._settle_then_send())

    async def _settle_then_send(self) -> None:
        """Wait until the screen's widgets have handled what the last key set off (a
        message to the screen that pushes a dialog, the dialog's mount and focus), so
        the next key goes where the user saw it go; then send it from the App's task."""
        app: App[Any] = self  # type: ignore[assignment]
        try:
            for _ in range(SETTLE_ROUNDS):
                screen, focused = app.screen, app.focused
                await drained([app, *screen.walk_children(with_self=True)])
                if app.screen is screen and app.focused is focused:
                    break
        except (ScreenError, NoScreen):  # the App is closing: no screen to settle
            return
        self.call_later(self._send_next)

    async def _send_next(self) -> None:
        if self._key_in_flight is None and self._keys_waiting:
            await self._send_key(self._keys_waiting.popleft())


async def drained(nodes: list[MessagePump], timeout: float = RELEASE_AFTER) -> None:
    """Return once each of ``nodes`` has handled every message queued before the call
    (or after ``timeout``: a node that is closing never answers)."""
    waiting = 0
    done = asyncio.Event()

    def one_more() -> None:
        nonlocal waiting
        waiting -= 1
        if waiting == 0:
            done.set()

    for node in nodes:
        if node.call_later(one_more):
            waiting += 1
    if waiting:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), timeout)
