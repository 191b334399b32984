"""Every secret value quantdesk reads from the keyring is masked wherever text leaves the
process -- by value, not only in the shape of URI credentials: a library that logs a
request URL holding a bot token, a message that quotes a token, a multi-line text that
would forge a log line."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.alerts.config import AlertsConfig, TelegramConfig
from services.alerts.wiring import open_alerting
from services.ops.logs import setup_file_logging
from services.ops.redact import MASK, forget_all, redact
from services.ops.secrets import SERVICE, Secrets
from tests.alert_servers import BotAPI
from tests.conftest import make_services

TRADER = 4242


class MemoryRing:
    """A keyring that holds its entries in memory (the Secrets API over it is the real one)."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, key: str) -> str | None:
        return self.entries.get((service, key))

    def set_password(self, service: str, key: str, value: str) -> None:
        self.entries[service, key] = value

    def delete_password(self, service: str, key: str) -> None:
        del self.entries[service, key]


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    """quantdesk's own file logging, as the console sets it up; restored afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    forget_all()
    path = setup_file_logging(tmp_path / "logs-home")
    assert path is not None
    yield path
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    forget_all()


def test_a_bot_token_in_a_request_url_never_reaches_the_log(tmp_path: Path, log_file: Path) -> None:
    bot = BotAPI(token="987654:SECRET-bot-token-abcdef")
    ring = MemoryRing()
    ring.set_password(SERVICE, "telegram.token", bot.token)  # stored by another process
    telegram = TelegramConfig(control=True, chats=(str(TRADER),), api_url=bot.url, poll_s=1)
    try:
        alerting = open_alerting(AlertsConfig(), telegram, Secrets(ring).get)
        services = make_services(tmp_path / "data", alerting=alerting)
        services.start()
        try:
            bot.say(TRADER, "/status")
            assert "trading ACTIVE" in bot.replies(TRADER, 1)[0]
            # a library's own warning with the URL in it: masked like every record
            logging.getLogger("httpx").warning("retrying %s/bot%s/getUpdates", bot.url, bot.token)
        finally:
            services.stop()
    finally:
        bot.close()
    text = log_file.read_text(encoding="utf-8")
    assert "telegram" in text  # the poll was logged
    assert f"bot{MASK}/getUpdates" in text
    assert "SECRET-bot-token" not in text
    assert "HTTP Request" not in text  # httpx's request lines stay out at INFO


def test_a_value_read_from_the_keyring_is_masked_in_every_text(log_file: Path) -> None:
    ring = MemoryRing()
    ring.set_password(SERVICE, "broker.password", "hunter2-Pa55")
    ring.set_password(SERVICE, "alerts.phone", "wecombot://a1b2c3d4e5f60718293a")
    assert redact("login refused: hunter2-Pa55") == "login refused: hunter2-Pa55"  # unknown yet
    secrets = Secrets(ring)
    assert secrets.get("broker.password") == "hunter2-Pa55"
    assert secrets.get("alerts.phone")
    assert redact("login refused: hunter2-Pa55") == f"login refused: {MASK}"
    # an apprise URL's key alone (all lower-case hex: its "host"), and URL-encoded values
    assert redact("POST /cgi-bin/webhook/send?key=x a1b2c3d4e5f60718293a") == (
        f"POST /cgi-bin/webhook/send?key={MASK} {MASK}"
    )
    assert redact("pw=hunter2-Pa55%21") == f"pw={MASK}%21"
    logging.getLogger("quantdesk.broker").error("rejected (password %s)", "hunter2-Pa55")
    assert "hunter2" not in log_file.read_text(encoding="utf-8")


def test_a_log_record_is_one_line_whatever_it_quotes(log_file: Path) -> None:
    """A halt reason typed with a newline cannot forge a log line of its own."""
    logging.getLogger("quantdesk.control").warning(
        "trading HALTED: %s", "fat finger\n2026-12-04 10:00:00 INFO quantdesk: re-armed"
    )
    lines = log_file.read_text(encoding="utf-8").splitlines()
    (line,) = [ln for ln in lines if "HALTED" in ln]
    assert line.endswith("fat finger\\n2026-12-04 10:00:00 INFO quantdesk: re-armed")
    assert not any(ln.startswith("2026-12-04 10:00:00") for ln in lines)
