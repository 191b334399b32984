"""``[alerts]``, ``[alerts.channels.NAME]``, ``[alerts.severity]`` and ``[telegram]``.

A channel is an apprise URL kept in the keyring under a name (it carries a token:
``tgram://TOKEN/CHAT``, ``wecombot://KEY``, ``mailtos://user:pass@host``...), and a
route: the lowest severity it takes and, optionally, which kinds. Nothing secret is
in config.toml.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlparse

from services.alerts.model import KINDS, RANK, SEVERITIES, Alert, Severity
from services.settings import ConfigValueError, require

CHANNEL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class ChannelConfig:
    """One alert channel: where its apprise URL is kept and what it is sent."""

    name: str
    secret: str
    """The keyring entry holding the channel's apprise URL (quantdesk secrets set NAME)."""
    min_severity: Severity = "info"
    """The least severe alert it is sent: info (everything), warning or critical."""
    kinds: tuple[str, ...] = ()
    """Only these kinds (fill, reject, halt, ...); empty: every kind."""

    def __post_init__(self) -> None:
        require(
            bool(CHANNEL_RE.match(self.name)),
            "name",
            f"a channel's name is a letter then letters, digits, '_' or '-', got {self.name!r}",
        )
        require(bool(self.secret), "secret", "the keyring entry of its apprise URL is required")
        require(
            self.min_severity in SEVERITIES,
            "min_severity",
            f"must be one of {', '.join(SEVERITIES)}, got {self.min_severity!r}",
        )
        for kind in self.kinds:
            require(kind in KINDS, "kinds", f"unknown kind {kind!r}; kinds: {', '.join(KINDS)}")

    def wants(self, alert: Alert) -> bool:
        """Is ``alert`` routed here (a test is sent to the channel it names, whatever)?"""
        if self.kinds and alert.kind not in self.kinds and alert.kind != "test":
            return False
        return alert.kind == "test" or RANK[alert.severity] >= RANK[self.min_severity]


@dataclass(frozen=True)
class AlertsConfig:
    """[alerts] in config.toml: de-duplication, rate, retries; channels and severities."""

    dedupe_s: float = 300.0
    """Alerts about the same thing within this many seconds are sent once, then once more
    with a count when the window closes (0: every one is sent)."""
    per_minute: int = 6
    """At most this many alerts a minute to each channel; more are held and sent as one
    digest. Critical alerts (a HALT) are never held."""
    retries: int = 8
    """Tries after the first before a delivery is given up (and shown as failed)."""
    retry_s: float = 5.0
    """Seconds before the first retry; each further one waits twice as long (at most 10 min)."""
    timeout_s: float = 10.0
    """Seconds a channel may take to answer before the try counts as failed."""
    severity: dict[str, Severity] = field(default_factory=dict)
    """[alerts.severity]: a kind's severity, where the default does not suit (fill = "warning")."""
    channels: tuple[ChannelConfig, ...] = ()
    """[alerts.channels.NAME] tables."""

    def __post_init__(self) -> None:
        require(self.dedupe_s >= 0, "dedupe_s", f"must be >= 0 (0: off), got {self.dedupe_s}")
        require(1 <= self.per_minute <= 600, "per_minute", f"must be 1-600, got {self.per_minute}")
        require(0 <= self.retries <= 50, "retries", f"must be 0-50, got {self.retries}")
        require(self.retry_s > 0, "retry_s", f"must be > 0 seconds, got {self.retry_s}")
        require(1 <= self.timeout_s <= 120, "timeout_s", f"must be 1-120 s, got {self.timeout_s}")
        for kind, severity in self.severity.items():
            require(kind in KINDS, "severity", f"unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
            require(
                severity in SEVERITIES,
                "severity",
                f"{kind}: must be one of {', '.join(SEVERITIES)}, got {severity!r}",
            )
        names = [c.name for c in self.channels]
        require(len(set(names)) == len(names), "channels", "a channel name is used twice")

    def severity_of(self, kind: str) -> Severity:
        return self.severity.get(kind) or KINDS[kind][0]


TELEGRAM_API = "https://api.telegram.org"


@dataclass(frozen=True)
class TelegramConfig:
    """[telegram]: control from a phone (opt-in). Nothing that adds risk is possible."""

    control: bool = False
    """Answer /status, /positions, /pnl, /orders and /halt from the chats in ``chats``."""
    token: str = "telegram.token"
    """The keyring entry holding the bot's token (quantdesk secrets set telegram.token)."""
    chats: tuple[str, ...] = ()
    """Chat ids allowed to send commands; messages from any other chat get no answer."""
    api_url: str = TELEGRAM_API
    """The Bot API's address: change it only for a proxy or a test server."""
    confirm_s: float = 60.0
    """Seconds within which /halt must be confirmed by a second message."""
    poll_s: float = 30.0
    """Seconds one long poll of the Bot API waits for messages."""

    def __post_init__(self) -> None:
        for chat in self.chats:
            require(
                bool(re.fullmatch(r"-?\d{1,20}", chat)),
                "chats",
                f"a chat id is a whole number (negative for a group), got {chat!r}",
            )
        require(
            not self.control or bool(self.chats),
            "chats",
            "control = true needs the chat ids allowed to command (nobody else is answered)",
        )
        parsed = urlparse(self.api_url)
        require(
            parsed.scheme in ("http", "https") and bool(parsed.netloc),
            "api_url",
            f"must be an http(s) URL, got {self.api_url!r}",
        )
        require(5 <= self.confirm_s <= 600, "confirm_s", f"must be 5-600 s, got {self.confirm_s}")
        require(1 <= self.poll_s <= 60, "poll_s", f"must be 1-60 s, got {self.poll_s}")


def channel_from_table(name: str, table: dict[str, object]) -> ChannelConfig:
    """[alerts.channels.NAME] → a channel; ConfigValueError names the bad key."""
    known = {"secret", "min_severity", "kinds"}
    for key in table:
        if key not in known:
            raise ConfigValueError(key, f"unknown key; expected one of: {', '.join(sorted(known))}")
    secret, severity, kinds = (
        table.get("secret", ""),
        table.get("min_severity", "info"),
        table.get("kinds", []),
    )
    if not isinstance(secret, str) or not isinstance(severity, str):
        raise ConfigValueError("secret", "secret and min_severity are strings")
    if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
        raise ConfigValueError("kinds", 'expected a list of kinds, e.g. ["halt", "fill"]')
    return ChannelConfig(name, secret, severity, tuple(kinds))  # type: ignore[arg-type]
