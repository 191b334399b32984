"""Control from a phone over Telegram (opt-in, ``[telegram] control = true``).

A long poll of the Bot API (python-telegram-bot's ``Bot``, on its own thread and event
loop) reads messages to the bot. Only the chats in ``[telegram] chats`` are answered;
a message from any other chat gets no answer at all (it is journaled and logged).
Commands only look, or lower risk:

- ``/status``, ``/positions``, ``/pnl``, ``/orders``: what the console shows;
- ``/halt``: asks for a code, and ``/confirm CODE`` from the same chat within
  ``confirm_s`` HALTs every account and cancels every working order (the kill switch).

Re-arming, new orders, flattening and changing limits are refused: they are done at
the console. Every command is journaled with its chat id. A message older than
``confirm_s`` (sent while quantdesk was not polling) is not acted on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.alerts import reports
from services.alerts.config import TelegramConfig
from services.records.journal import Journal, JournalError

log = logging.getLogger("quantdesk.telegram")

LOOKS = {
    "/status": reports.status,
    "/positions": reports.positions,
    "/pnl": reports.pnl,
    "/orders": reports.orders,
}
RISKY = (
    "/rearm",
    "/arm",
    "/resume",
    "/unhalt",
    "/buy",
    "/sell",
    "/order",
    "/flatten",
    "/cancel",
    "/limit",
    "/limits",
    "/set",
)
HELP = (
    "quantdesk commands: /status /positions /pnl /orders, and /halt (asks for a code). "
    "Re-arming, orders and limits are done at the console only."
)
REFUSED = (
    "Refused: {command} adds risk or changes orders. Re-arming, new orders, flattening and "
    "limits are done at the console only."
)


@dataclass
class _Pending:
    code: str
    asked: datetime  # UTC


class TelegramControl:
    """Answers the allow-listed chats; see the module's docstring."""

    def __init__(
        self,
        config: TelegramConfig,
        token: str,
        console: reports.Observed,
        journal: Journal,
        kill: Callable[[str], list[str]],
        notify: Callable[[str, str], None] = lambda title, body: None,
    ) -> None:
        self.config, self.console, self.journal = config, console, journal
        self.kill, self.notify = kill, notify
        self._token = token
        self.allowed = {int(c) for c in config.chats}
        self._pending: dict[int, _Pending] = {}
        self._ignored: set[int] = set()
        self.state = "not started"  # polling | an error the console shows
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="telegram", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._loop is not None and self._task is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self._loop.call_soon_threadsafe(self._task.cancel)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._task = loop.create_task(self._poll())
            with contextlib.suppress(asyncio.CancelledError):
                loop.run_until_complete(self._task)
        except Exception as exc:  # a dead channel says so: the header and an alert show it
            log.exception("telegram: polling stopped")
            self._set_state(f"stopped after an error ({type(exc).__name__}: {exc})")
        finally:
            loop.close()

    async def _poll(self) -> None:
        from telegram import Bot
        from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TelegramError
        from telegram.request import HTTPXRequest

        # getUpdates is asked for raw (do_api_request), so that each update is read on its
        # own; PTB would warn that get_updates exists.
        warnings.filterwarnings("ignore", message="Please use 'Bot.getUpdates'")
        cfg = self.config
        base = cfg.api_url.rstrip("/") + "/bot"
        request = HTTPXRequest(connect_timeout=10, read_timeout=10)
        bot = Bot(
            self._token,
            base_url=base,
            request=request,
            get_updates_request=HTTPXRequest(connect_timeout=10, read_timeout=cfg.poll_s + 10),
        )
        offset = int(self.journal.get_state("telegram:offset") or 0) or None
        wait, ready = 1.0, False
        while not self._stopping.is_set():
            try:
                if not ready:
                    await bot.initialize()  # getMe: checks the token
                    ready = True
                raw = await bot.do_api_request(
                    "getUpdates",
                    {"offset": offset, "timeout": int(cfg.poll_s), "allowed_updates": ["message"]},
                    read_timeout=cfg.poll_s + 10,
                )
                if not isinstance(raw, list):
                    raise TypeError(f"getUpdates answered {type(raw).__name__}, not a list")
                self._set_state(f"polling as @{bot.username}")
                wait = 1.0
            except InvalidToken:
                self._set_state("the bot token was refused: quantdesk secrets set " + cfg.token)
                await asyncio.sleep(60)
                continue
            except Conflict:
                self._set_state("another program polls this bot (Telegram answered 409)")
                await asyncio.sleep(30)
                continue
            except RetryAfter as exc:
                await asyncio.sleep(float(getattr(exc, "retry_after", 5)))
                continue
            except (NetworkError, TelegramError, ValueError, TypeError, KeyError) as exc:
                what = "unreachable" if isinstance(exc, NetworkError) else "answer unreadable"
                self._set_state(f"Bot API {what}: {exc}; retrying in {wait:.0f} s")
                await asyncio.sleep(wait)
                wait = min(wait * 2, 60.0)
                continue
            for item in raw:
                if isinstance(item, dict) and isinstance(item.get("update_id"), int):
                    offset = item["update_id"] + 1  # even a malformed one is not asked again
                try:
                    await self._answer(bot, item)
                except Exception:  # one update must not stop the channel
                    log.exception("telegram: an update could not be handled: %.300r", item)
            if raw and offset is not None:
                with contextlib.suppress(JournalError):
                    self.journal.set_state("telegram:offset", str(offset))
        with contextlib.suppress(Exception):
            await bot.shutdown()

    async def _answer(self, bot: Any, item: Any) -> None:
        """Read one raw update and answer it; one that is not a text message is skipped."""
        from telegram import Update
        from telegram.error import TelegramError

        update = Update.de_json(item, bot) if isinstance(item, dict) else None
        message = update.message if update is not None else None
        if message is None or message.chat is None or not isinstance(message.text, str):
            log.info("telegram: an update that is not a text message was skipped")
            return
        reply = self.handle(
            message.chat.id,
            message.text,
            message.date,
            getattr(message.from_user, "username", "") or "",
        )
        if reply:
            try:
                await bot.send_message(message.chat.id, reply[:4000])
            except TelegramError as exc:
                log.warning("telegram: answer to chat %s not sent: %s", message.chat.id, exc)

    @property
    def working(self) -> bool:
        """Polling (or not started yet): no error to show."""
        return self.state.startswith("polling") or self.state == "not started"

    def warnings(self) -> list[str]:
        """For the system monitor and the header: polling that does not work."""
        short = self.state.split(":")[0].split(";")[0]  # the whole of it is on M and in the log
        return [] if self.working else [f"telegram: {short}"]

    def _set_state(self, state: str) -> None:
        if state != self.state:
            (log.info if state.startswith("polling") else log.warning)("telegram: %s", state)
        self.state = state

    # -- commands --------------------------------------------------------------------------
    def handle(self, chat: int, text: str, sent: datetime, user: str = "") -> str:
        """The answer to one message ("" for none); journaled with its chat id."""
        words = text.strip().split()
        command = words[0].split("@", 1)[0].lower() if words else ""
        if chat not in self.allowed:
            self._record(chat, user, command, "ignored: chat not allowed")
            if chat not in self._ignored:
                self._ignored.add(chat)
                log.warning("telegram: a message from chat %s (not allowed) was ignored", chat)
                self.notify(
                    f"Telegram: chat {chat} (not allowed) sent {command[:20] or 'a message'}",
                    "ignored; allow it in [telegram] chats if it is yours",
                )
            return ""
        now = datetime.now(UTC)
        age = (now - sent).total_seconds()
        if age > self.config.confirm_s:
            self._record(chat, user, command, f"too old ({age:.0f} s)")
            return (
                f"Not done: your {command or 'message'} was sent {age:.0f} s ago, while "
                "quantdesk was not reading. Send it again."
            )
        if command in LOOKS:
            self._record(chat, user, command, "answered")
            return LOOKS[command](self.console)
        if command == "/halt":
            return self._ask_halt(chat, user, now)
        if command == "/confirm":
            return self._confirm(chat, user, words[1] if len(words) > 1 else "", now)
        if command in RISKY:
            self._record(chat, user, command, "refused")
            self.notify(f"Telegram: {command} refused (chat {chat})", "done at the console only")
            return REFUSED.format(command=command)
        self._record(chat, user, command or text[:20], "unknown")
        return HELP

    def _ask_halt(self, chat: int, user: str, now: datetime) -> str:
        code = f"{secrets.randbelow(9000) + 1000}"
        self._pending[chat] = _Pending(code, now)
        working = sum(len(d.orders.working_ids()) for d in self.console.desks)
        self._record(chat, user, "/halt", "confirmation asked")
        return (
            f"HALT every account and cancel {working} working order(s)? Send /confirm {code} "
            f"within {self.config.confirm_s:.0f} s."
        )

    def _confirm(self, chat: int, user: str, code: str, now: datetime) -> str:
        pending = self._pending.pop(chat, None)
        if pending is None:
            self._record(chat, user, "/confirm", "nothing to confirm")
            return "Nothing to confirm: send /halt first."
        if (now - pending.asked).total_seconds() > self.config.confirm_s:
            self._record(chat, user, "/confirm", "expired")
            return "The /halt request expired: send /halt again."
        if code != pending.code:
            self._record(chat, user, "/confirm", "wrong code")
            return "That code does not match: send /halt again."
        who = f"@{user}" if user else "unknown user"
        cancelled = self.kill(f"HALT from Telegram chat {chat} ({who})")
        self._record(chat, user, "/halt", f"HALTED, {len(cancelled)} cancel(s) sent")
        self.notify(
            f"HALT from Telegram chat {chat} ({who})",
            f"every account HALTED; cancel sent for {len(cancelled)} working order(s)",
        )
        return (
            f"HALTED: every account. Cancel sent for {len(cancelled)} working order(s); "
            "strategies stopped. Re-arm at the console."
        )

    def _record(self, chat: int, user: str, command: str, outcome: str) -> None:
        payload: dict[str, Any] = {"command": command, "outcome": outcome, "user": user}
        try:
            self.journal.record("remote", str(chat), payload)
        except JournalError as exc:  # trading is HALTED for it already; say so here too
            log.error("telegram: command %s of chat %s not journaled: %s", command, chat, exc)
