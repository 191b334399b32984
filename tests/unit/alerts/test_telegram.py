"""Control from a phone against a local stand-in of the Telegram Bot API, over real
services: an allow-listed /halt, confirmed by its code, HALTs and cancels every working
order; a chat that is not allowed gets nothing; re-arming is refused; every command is
journaled with its chat id; a message sent while quantdesk was not reading is not acted
on."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.alerts.config import TelegramConfig
from services.alerts.wiring import Alerting
from services.events import OrderIntent, TradingState
from services.runtime import Services
from tests.alert_servers import BotAPI
from tests.conftest import make_services

TRADER, STRANGER = 4242, 666


@pytest.fixture
def console(tmp_path: Path, bot: BotAPI) -> Iterator[Services]:
    telegram = TelegramConfig(
        control=True, chats=(str(TRADER),), api_url=bot.url, confirm_s=30, poll_s=1
    )
    services = make_services(
        tmp_path, alerting=Alerting(telegram=telegram, telegram_token=bot.token)
    )
    services.start()
    assert services.bus.wait_idle()
    yield services
    services.stop()


def resting_buy(services: Services, n: int) -> OrderIntent:
    tick = services.market.get("600519.SSE")
    assert tick is not None
    price = round(tick.bid_price_1 * (0.99 - n / 1000), 2)  # not twice the same order
    return OrderIntent(f"rest{n}", "600519.SSE", "buy", "limit", 100, price)


def test_an_allowed_halt_confirmed_by_its_code_halts_and_cancels(
    console: Services, bot: BotAPI
) -> None:
    for n in range(2):
        assert console.orders.submit(resting_buy(console, n)).accepted
    assert len(console.orders.working_ids()) == 2
    bot.say(TRADER, "/status")
    (status,) = bot.replies(TRADER, 1)
    assert "trading ACTIVE" in status and "2 working" in status
    bot.say(TRADER, "/halt")
    asked = bot.replies(TRADER, 2)[1]
    assert "cancel 2 working order(s)" in asked
    code = re.search(r"/confirm (\d{4})", asked)
    assert code is not None
    assert console.control.state is TradingState.ACTIVE  # nothing happens before the code
    bot.say(TRADER, f"/confirm {code.group(1)}")
    done = bot.replies(TRADER, 3)[2]
    assert done.startswith("HALTED: every account. Cancel sent for 2 working order(s)")
    assert console.control.state is TradingState.HALTED
    assert f"HALT from Telegram chat {TRADER} (@trader)" in console.control.reason
    assert console.bus.wait_idle()
    assert console.orders.working_ids() == []
    remote = [
        (e["ref"], e["payload"]["command"], e["payload"]["outcome"])
        for e in console.journal.entries("remote")
    ]
    assert remote == [
        (str(TRADER), "/status", "answered"),
        (str(TRADER), "/halt", "confirmation asked"),
        (str(TRADER), "/halt", "HALTED, 2 cancel(s) sent"),
    ]


def test_a_chat_not_allowed_gets_nothing_and_is_journaled(console: Services, bot: BotAPI) -> None:
    bot.say(STRANGER, "/halt")
    bot.say(STRANGER, "/status")
    bot.say(TRADER, "/pnl")  # answered after the stranger's two: the poll read them
    (pnl,) = bot.replies(TRADER, 1)
    assert "equity" in pnl
    assert [m for m in bot.sent if int(m["chat_id"]) == STRANGER] == []
    assert console.control.state is TradingState.ACTIVE
    ignored = [e for e in console.journal.entries("remote") if e["ref"] == str(STRANGER)]
    assert [e["payload"]["outcome"] for e in ignored] == ["ignored: chat not allowed"] * 2


def test_rearming_or_ordering_from_a_phone_is_refused(console: Services, bot: BotAPI) -> None:
    console.kill_switch("test")
    for text in ("/rearm ARM", "/buy 600519 100", "/limit max_daily_loss 0"):
        bot.say(TRADER, text)
    replies = bot.replies(TRADER, 3)
    assert all(r.startswith("Refused: ") and "console only" in r for r in replies)
    assert console.control.state is TradingState.HALTED
    outcomes = [e["payload"]["outcome"] for e in console.journal.entries("remote")]
    assert outcomes == ["refused"] * 3


def test_a_wrong_code_an_expired_request_and_an_old_message_do_nothing(
    console: Services, bot: BotAPI
) -> None:
    bot.say(TRADER, "/halt")
    bot.replies(TRADER, 1)
    bot.say(TRADER, "/confirm 0000")
    assert "does not match" in bot.replies(TRADER, 2)[1]
    bot.say(TRADER, "/confirm")
    assert "Nothing to confirm" in bot.replies(TRADER, 3)[2]
    bot.say(TRADER, "/halt", age_s=600)  # sent ten minutes ago, while nobody polled
    assert re.match(r"Not done: your /halt was sent 60\d s ago", bot.replies(TRADER, 4)[3])
    bot.say(TRADER, "/positions")
    assert "no positions" in bot.replies(TRADER, 5)[4]
    bot.say(TRADER, "/orders")
    assert "no working orders" in bot.replies(TRADER, 6)[5]
    assert console.control.state is TradingState.ACTIVE


def test_the_poll_survives_an_unreachable_api_and_a_refused_token(tmp_path: Path) -> None:
    from services.alerts.telegram import TelegramControl

    services = make_services(tmp_path)
    control = TelegramControl(
        TelegramConfig(control=True, chats=("1",), api_url="http://127.0.0.1:9", poll_s=1),
        "123:abc",
        services,
        services.journal,
        services.kill_switch,
    )
    control.start()
    try:
        import time

        deadline = time.monotonic() + 10
        while "unreachable" not in control.state and time.monotonic() < deadline:
            time.sleep(0.05)
        assert control.state.startswith("Bot API unreachable")
    finally:
        control.stop()
        services.stop()


def test_a_refused_token_is_a_warning_on_the_monitor(tmp_path: Path, bot: BotAPI) -> None:
    import time

    telegram = TelegramConfig(control=True, chats=("1",), api_url=bot.url, poll_s=1)
    services = make_services(tmp_path, alerting=Alerting(telegram=telegram, telegram_token="1:bad"))
    services.start()
    try:
        assert services.remote is not None and services.health is not None
        deadline = time.monotonic() + 10
        while "refused" not in services.remote.state and time.monotonic() < deadline:
            time.sleep(0.05)
        warnings = services.health.read().warnings
        assert "telegram: the bot token was refused" in warnings
        assert services.remote.state.endswith("quantdesk secrets set telegram.token")
    finally:
        services.stop()


def _wait(predicate: object, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)


def test_the_poll_survives_answers_that_are_not_json_and_says_so(
    console: Services, bot: BotAPI
) -> None:
    """A proxy's error page, an empty body, JSON that is not the Bot API's: a warning on the
    monitor while it lasts, and the next good answer is served as usual."""
    remote = console.remote
    assert remote is not None
    _wait(lambda: remote.state.startswith("polling"))
    bot.raw += [
        (200, b"<html><body>502 Bad Gateway</body></html>"),
        (200, b""),
        (200, b'{"ok": true, "result": {"not": "a list"}}'),
    ]
    _wait(lambda: "answer unreadable" in remote.state)
    assert remote.warnings() and remote.warnings()[0].startswith("telegram: Bot API answer")
    assert console.health is not None
    assert any(w.startswith("telegram:") for w in console.health.read().warnings)
    bot.say(TRADER, "/status")
    (status,) = bot.replies(TRADER, 1, timeout=20)  # backing off 1, 2, 4 s, then served
    assert "trading ACTIVE" in status
    _wait(lambda: remote.state.startswith("polling"))
    assert remote.warnings() == []


def test_malformed_updates_are_skipped_and_the_poll_goes_on(console: Services, bot: BotAPI) -> None:
    now = int(__import__("time").time())
    chatless = {"message_id": 1, "date": now, "text": "/halt"}
    bot.push({"edited_message": {**chatless, "chat": {"id": TRADER, "type": "private"}}})
    bot.push({"message": chatless})  # no chat
    bot.push({"message": {**chatless, "chat": {"id": TRADER, "type": "private"}, "text": 12345}})
    bot.push({"message": "not an object"})
    bot.push({})  # an update with nothing in it
    bot.say(TRADER, "/status")
    (status,) = bot.replies(TRADER, 1)
    assert "trading ACTIVE" in status
    assert console.control.state is TradingState.ACTIVE  # none of them was taken as /halt
    assert console.remote is not None and console.remote.state.startswith("polling")


def test_a_handler_that_fails_on_one_message_does_not_stop_the_channel(
    console: Services, bot: BotAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = console.remote
    assert remote is not None
    real = remote.handle
    calls: list[str] = []

    def flaky(chat: int, text: str, *args: object) -> str:
        calls.append(text)
        if len(calls) == 1:
            raise RuntimeError("a bug in one command")
        return real(chat, text, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(remote, "handle", flaky)
    bot.say(TRADER, "/status")
    bot.say(TRADER, "/pnl")
    (answer,) = bot.replies(TRADER, 1)
    assert "equity" in answer and "realized" in answer  # /pnl answered; /status was lost
    assert remote.state.startswith("polling")


def test_a_poll_that_dies_is_a_warning_not_silence(tmp_path: Path, bot: BotAPI) -> None:
    from services.alerts.telegram import TelegramControl

    services = make_services(tmp_path)
    control = TelegramControl(
        TelegramConfig(control=True, chats=(str(TRADER),), api_url=bot.url, poll_s=1),
        bot.token,
        services,
        services.journal,
        services.kill_switch,
    )

    async def broken() -> None:
        raise RuntimeError("the event loop's own failure")

    control._poll = broken  # type: ignore[method-assign]
    control.start()
    try:
        _wait(lambda: control.state.startswith("stopped"))
        assert control.warnings() == ["telegram: stopped after an error (RuntimeError"]
        assert not control.working
    finally:
        control.stop()
        services.stop()
