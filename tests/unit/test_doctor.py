"""quantdesk doctor: each check, and the command's verdict."""

from __future__ import annotations

import http.server
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.cli import main
from services.ops import doctor


def test_the_terminal_colours_and_encoding_checks_say_what_to_fix() -> None:
    small = doctor.terminal(lambda: os.terminal_size((100, 30)))
    assert small.level == "warn" and "100×30, smaller than 120×40" in small.found
    assert doctor.terminal(lambda: os.terminal_size((160, 48))).level == "ok"
    assert doctor.colours({"TERM": "xterm"}).fix.startswith("export TERM=xterm-256color")
    assert doctor.colours({"TERM": "tmux-256color"}).level == "ok"
    assert doctor.colours({"TERM": "xterm", "COLORTERM": "truecolor"}).level == "ok"
    latin = doctor.utf8({"LANG": "C"})
    assert latin.level == "FAIL" and "LANG=C.UTF-8" in latin.fix


def test_the_data_directory_check_flags_what_others_can_read(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert doctor.data_dir(data, 2.0)[0].level == "warn"  # not created yet
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    found = doctor.data_dir(data, 2.0)
    assert found[0].level == "warn" and found[0].fix == f"chmod 700 {data}"
    assert found[1].check == "free disk" and found[1].level == "ok"
    short = doctor.data_dir(data, 1e9)[1]  # less free than asked: a warning to act on
    assert short.level == "warn" and short.fix.startswith("free space")


@pytest.fixture
def http_server() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_the_quote_source_check_makes_a_real_request(http_server: str) -> None:
    assert doctor.reachable(http_server).level == "ok"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens once it is closed
    gone = doctor.reachable(f"http://127.0.0.1:{closed}/", timeout=1)
    assert gone.level == "warn" and "unreachable" in gone.found and "offline" in gone.fix


def test_doctor_fails_on_what_must_be_fixed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert main(["doctor", "--offline", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "ok    store: lmdb://" in out and "checks: 0 to fix" in out
    config = tmp_path / "config.toml"
    config.write_text('[[accounts]]\nid = "b"\ngateway = "vnpy_nosuch:Gateway"\n', encoding="utf-8")
    assert main(["doctor", "--offline", "--data-dir", str(data), "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  account b: account b: cannot import vnpy_nosuch" in out
    assert "1 to fix" in out


def test_alert_channels_and_phone_control_are_checked_without_sending() -> None:
    from services.alerts import checks
    from services.alerts.config import AlertsConfig, ChannelConfig, TelegramConfig

    none = checks.findings(AlertsConfig(), TelegramConfig(), lambda name: None)
    assert [(f.check, f.level) for f in none] == [("alerts", "warn")]
    assert "nobody hears of a HALT" in none[0].found
    config = AlertsConfig(
        channels=(
            ChannelConfig("phone", "alerts.phone", "warning"),
            ChannelConfig("mail", "alerts.mail", kinds=("summary",)),
            ChannelConfig("pager", "alerts.pager"),
        )
    )
    kept = {"alerts.phone": "tgram://123456:abcdefTOKEN/4242", "alerts.mail": "nosuch://x"}
    telegram = TelegramConfig(control=True, chats=("4242",))
    found = checks.findings(config, telegram, kept.get)
    levels = {f.check: (f.level, f.found, f.fix) for f in found}
    assert levels["alert channel phone"][0] == "ok"
    assert levels["alert channel phone"][1].startswith("Telegram, warning and above")
    assert levels["alert channel mail"][0] == "FAIL"
    assert "does not hold an apprise URL" in levels["alert channel mail"][1]
    assert levels["alert channel pager"][:1] == ("FAIL",)
    assert levels["alert channel pager"][2].startswith("quantdesk secrets set alerts.pager")
    assert levels["phone control"][0] == "FAIL"
    assert levels["phone control"][2].startswith("quantdesk secrets set telegram.token")
    for finding in found:
        assert "abcdefTOKEN" not in finding.line()
