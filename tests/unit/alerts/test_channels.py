"""Real delivery through apprise to local stand-ins of each service: the email arrives at
an SMTP server, and each HTTP service gets a request of the shape its API takes (path,
key or token where the service expects it, the message in the field it reads). A
failure comes back as the service's words, never with the URL's secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import unquote

import apprise.plugins.dingtalk as dingtalk
import apprise.plugins.feishu as feishu
import apprise.plugins.pushplus as pushplus
import apprise.plugins.serverchan as serverchan
import apprise.plugins.telegram as telegram
import apprise.plugins.wecombot as wecombot
import pytest

from services.alerts.channels import Channel, ChannelError, open_channels
from services.alerts.config import AlertsConfig, ChannelConfig
from services.ops.redact import secret_parts
from tests.alert_servers import BotAPI, HTTPStandIn, Script, redirect, smtp_server

TITLE, BODY = "[main] Trading HALTED", "max_daily_loss: day loss 52,000 > 50,000 (since 10:31:02)"


def channel(url: str, timeout_s: float = 2.0) -> Channel:
    return Channel(ChannelConfig("c", "alerts.c"), url, timeout_s, min_gap_s=0.0)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_an_email_arrives_at_the_smtp_server_logged_in_with_auth() -> None:
    with smtp_server(user="alerts", password="s3cret-pass") as (port, received):
        url = (
            f"mailto://alerts:s3cret-pass@127.0.0.1:{port}"
            "?from=quantdesk@example.com&to=trader@example.com"
        )
        assert channel(url).send(TITLE, BODY, "critical") == ""
        assert len(received) == 1
        mail = received[0]
        assert mail["Subject"] == TITLE
        assert mail["To"] == "trader@example.com"
        texts = [p.get_payload(decode=True).decode() for p in mail.walk() if not p.is_multipart()]
        assert any(BODY in t for t in texts)
        wrong = channel(url.replace("s3cret-pass", "not-the-pass")).send(TITLE, BODY, "critical")
        assert wrong and "not-the-pass" not in wrong  # refused, and the password not shown
        assert len(received) == 1


def test_telegram_gets_send_message_for_the_chat(
    monkeypatch: pytest.MonkeyPatch, bot: BotAPI
) -> None:
    monkeypatch.setattr(telegram.NotifyTelegram, "notify_url", bot.url + "/bot")
    assert channel(f"tgram://{bot.token}/4242").send(TITLE, BODY, "critical") == ""
    sent = bot.sent[-1]
    assert int(sent["chat_id"]) == 4242
    assert TITLE in sent["text"] and BODY in sent["text"]
    bad = channel("tgram://999999:WRONG-token-zzzzzz/4242").send(TITLE, BODY, "critical")
    assert bad and "WRONG-token-zzzzzz" not in bad  # 401 from the API, the token masked


def _wecom(r: Any) -> None:
    assert r.path == "/cgi-bin/webhook/send" and r.query["key"] == ["WECOMKEY123456"]
    assert r.json() == {"msgtype": "text", "text": {"content": f"{TITLE}\r\n{BODY}"}}


def _serverchan(r: Any) -> None:
    assert r.path == "/SCTKEY123456.send"
    assert r.form() == {"title": TITLE, "desp": BODY}


def _dingtalk(r: Any) -> None:
    assert r.path == "/robot/send" and r.query["access_token"] == ["DTTOKEN123456"]
    assert r.json()["text"]["content"] == f"{TITLE}\r\n{BODY}"
    # signed with the robot's secret as DingTalk checks it: HMAC-SHA256 of "ts\nsecret"
    stamp = r.query["timestamp"][0]
    want = hmac.new(b"SIGNSECRET99", f"{stamp}\nSIGNSECRET99".encode(), hashlib.sha256).digest()
    assert unquote(r.query["sign"][0]) == base64.b64encode(want).decode()


def _feishu(r: Any) -> None:
    assert r.path == "/open-apis/bot/v2/hook/FSTOKEN123456/"
    assert r.json() == {"msg_type": "text", "content": {"text": f"{TITLE}\r\n{BODY}"}}


def _pushplus(r: Any) -> None:
    doc = r.json()
    assert r.path == "/send" and doc["token"] == "0123456789abcdef0123456789abcdef"
    assert (doc["title"], doc["content"]) == (TITLE, BODY)


@pytest.mark.parametrize(
    ("plugin", "url", "check", "answer"),
    [
        (wecombot.NotifyWeComBot, "wecombot://WECOMKEY123456", _wecom, None),
        (serverchan.NotifyServerChan, "schan://SCTKEY123456", _serverchan, None),
        (dingtalk.NotifyDingTalk, "dingtalk://SIGNSECRET99@DTTOKEN123456/", _dingtalk, None),
        (feishu.NotifyFeishu, "feishu://FSTOKEN123456", _feishu, None),
        (
            pushplus.NotifyPushplus,
            "pushplus://0123456789abcdef0123456789abcdef",
            _pushplus,
            b'{"code": 200, "msg": "ok"}',
        ),
    ],
    ids=["wecom", "serverchan", "dingtalk", "feishu", "pushplus"],
)
def test_each_webhook_service_gets_its_request_shape(
    monkeypatch: pytest.MonkeyPatch,
    http: HTTPStandIn,
    plugin: type,
    url: str,
    check: Any,
    answer: bytes | None,
) -> None:
    redirect(monkeypatch, plugin, http.url)
    if answer:
        http.script = Script(body=answer)
    assert channel(url).send(TITLE, BODY, "critical") == ""
    (request,) = http.requests
    assert request.method == "POST"
    check(request)
    http.script = Script(status=500, body=b'{"errcode": 1}')
    why = channel(url).send(TITLE, BODY, "critical")
    assert "500" in why
    for piece in secret_parts(url):
        assert piece not in why


def test_ntfy_on_its_own_host(http: HTTPStandIn) -> None:
    assert channel(f"ntfy://127.0.0.1:{http.port}/quantdesk").send(TITLE, BODY, "info") == ""
    doc = http.requests[-1].json()
    assert doc == {"topic": "quantdesk", "title": TITLE, "message": BODY}


def test_a_hung_service_times_out_with_a_reason(http: HTTPStandIn) -> None:
    http.script = Script(delay_s=3.0)
    why = channel(f"json://127.0.0.1:{http.port}/x", timeout_s=1.0).send(TITLE, BODY, "info")
    assert why  # a connection error after the read timeout, not a hang


def test_a_url_apprise_does_not_know_and_a_missing_secret_say_what_to_do() -> None:
    with pytest.raises(ChannelError, match=r"quantdesk secrets set alerts\.c"):
        channel("nosuchservice://token")
    config = AlertsConfig(channels=(ChannelConfig("phone", "alerts.phone"),))
    with pytest.raises(ChannelError, match=r"no secret alerts\.phone in the keyring"):
        open_channels(config, lambda name: None)


def test_secret_parts_mask_tokens_keys_and_passwords() -> None:
    parts = secret_parts("mailtos://me:hunter22pass@smtp.example.com?to=a@b.cn")
    assert "hunter22pass" in parts and "smtp.example.com" not in parts
    assert "WECOMKEY123456" in secret_parts("wecombot://WECOMKEY123456")
