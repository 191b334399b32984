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
