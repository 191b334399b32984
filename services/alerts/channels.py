"""An alert channel: one apprise URL (from the keyring), sent to with a timeout, and
the reason when it fails -- never the URL's secrets.

apprise reports why a delivery failed only in its log. Its logger is kept out of
quantdesk's log (its messages can carry the URL, token and all): a handler here
keeps each thread's apprise warnings while that thread sends, so the reason of a
failure is the service's own words ("HTTP 500", "timed out"), with the URL's secret
parts masked.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.alerts.config import AlertsConfig, ChannelConfig
from services.alerts.model import Severity
from services.ops.redact import redact, remember

APPRISE_TYPES = {"info": "info", "warning": "warning", "critical": "failure"}  # NotifyType


class ChannelError(ValueError):
    """A channel that cannot be used as configured; the message says what to do."""


class _Captured(logging.Handler):
    """Keeps the apprise log records of threads that asked for them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        lines: list[str] | None = getattr(self.local, "lines", None)
        if lines is not None and record.levelno >= logging.WARNING:
            lines.append(record.getMessage())

    def start(self) -> None:
        self.local.lines = []

    def stop(self) -> list[str]:
        lines: list[str] = getattr(self.local, "lines", None) or []
        self.local.lines = None
        return lines


_capture = _Captured()


def _apprise() -> Any:
    """apprise, imported when a channel is first opened (0.15 s: not at every start), its
    logger kept out of ours (its messages may hold the URL's token)."""
    import apprise

    log = logging.getLogger("apprise")
    if _capture not in log.handlers:
        log.addHandler(_capture)
        log.setLevel(logging.WARNING)
        log.propagate = False
    return apprise


@dataclass
class Channel:
    """A named apprise URL and its route; :meth:`send` returns "" or why it failed."""

    config: ChannelConfig
    url: str
    timeout_s: float = 10.0
    min_gap_s: float = 1.0  # between two requests (apprise's own default is 5.5 s)

    def __post_init__(self) -> None:
        plugin = _apprise().Apprise.instantiate(self.url)
        if plugin is None:
            raise ChannelError(
                f"alert channel {self.config.name}: the keyring entry {self.config.secret} "
                "does not hold an apprise URL apprise knows (e.g. tgram://TOKEN/CHAT, "
                "wecombot://KEY, mailtos://USER:PASS@HOST?to=ADDR); store it again with "
                f"quantdesk secrets set {self.config.secret}"
            )
        plugin.socket_connect_timeout = self.timeout_s
        plugin.socket_read_timeout = self.timeout_s
        plugin.request_rate_per_sec = self.min_gap_s  # apprise's name; it is seconds per request
        self.plugin = plugin
        remember(self.url)  # masked in every log line and message of this process

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def target(self) -> str:
        """What it sends to, without secrets: "Telegram", "E-Mail"."""
        return str(getattr(self.plugin, "service_name", "") or type(self.plugin).__name__)

    def mask(self, text: str) -> str:
        return redact(text)

    def send(self, title: str, body: str, severity: Severity) -> str:
        """Deliver one message now (on the calling thread); "" on success, else why not."""
        _capture.start()
        try:
            ok = self.plugin.notify(body=body, title=title, notify_type=APPRISE_TYPES[severity])
        except Exception as exc:  # a plugin's own bug: a failed try, never a dead thread
            ok, lines = False, [f"{type(exc).__name__}: {exc}"]
        else:
            lines = []
        finally:
            lines = _capture.stop() + lines
        if ok:
            return ""
        why = next((line for line in reversed(lines) if line.strip()), "") or "delivery failed"
        return self.mask(why.splitlines()[0])[:200]


SecretReader = Callable[[str], str | None]


def open_channels(config: AlertsConfig, read: SecretReader) -> list[Channel]:
    """Each configured channel, its URL read from the keyring; ChannelError says which one
    cannot be used and what to do (quantdesk does not start without its alerts)."""
    channels = []
    for channel in config.channels:
        url = read(channel.secret)
        if not url:
            raise ChannelError(
                f"alert channel {channel.name}: no secret {channel.secret} in the keyring; "
                f"store its apprise URL with quantdesk secrets set {channel.secret}, or "
                f"remove [alerts.channels.{channel.name}]"
            )
        channels.append(Channel(channel, url.strip(), config.timeout_s))
    return channels
