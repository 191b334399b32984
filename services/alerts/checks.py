"""``quantdesk doctor``'s look at alerting: is every channel's URL in the keyring and one
apprise knows, and has phone control its token. Nothing is sent (``quantdesk alerts
test`` sends)."""

from __future__ import annotations

from collections.abc import Callable

from services.alerts.channels import Channel, ChannelError
from services.alerts.config import AlertsConfig, TelegramConfig
from services.ops.doctor import Finding

SecretGet = Callable[[str], str | None]


def findings(
    alerts: AlertsConfig, telegram: TelegramConfig, get: SecretGet | None
) -> list[Finding]:
    """One finding per channel, and one for phone control; ``get`` is None when the
    keyring could not be opened (its own finding says so)."""
    out: list[Finding] = []
    if not alerts.channels:
        out.append(
            Finding(
                "alerts",
                "warn",
                "no alert channel: nobody hears of a HALT, a fill or a failed backup while "
                "you are away",
                "add [alerts.channels.NAME] with secret = NAME, then quantdesk secrets set NAME "
                "(an apprise URL) and quantdesk alerts test (README: Alerts)",
            )
        )
    for channel in alerts.channels:
        check = f"alert channel {channel.name}"
        route = f"{channel.min_severity} and above" + (
            f", only {', '.join(channel.kinds)}" if channel.kinds else ""
        )
        if get is None:
            out.append(Finding(check, "warn", f"{route}; its URL not checked (no keyring)"))
            continue
        url = get(channel.secret)
        if not url:
            out.append(
                Finding(
                    check,
                    "FAIL",
                    f"secret {channel.secret!r} is not in the keyring (quantdesk will not start)",
                    f"quantdesk secrets set {channel.secret} (an apprise URL, e.g. tgram://...)",
                )
            )
            continue
        try:
            opened = Channel(channel, url.strip())
        except ChannelError as exc:
            out.append(Finding(check, "FAIL", str(exc), f"quantdesk secrets set {channel.secret}"))
            continue
        out.append(
            Finding(check, "ok", f"{opened.target}, {route} (quantdesk alerts test {channel.name})")
        )
    if telegram.control:
        token = get(telegram.token) if get is not None else "?"
        if not token:
            out.append(
                Finding(
                    "phone control",
                    "FAIL",
                    f"[telegram] control = true but {telegram.token!r} is not in the keyring",
                    f"quantdesk secrets set {telegram.token} (the token @BotFather gave)",
                )
            )
        else:
            out.append(
                Finding(
                    "phone control",
                    "ok",
                    f"Telegram, chats {', '.join(telegram.chats)} via {telegram.api_url}",
                )
            )
    return out
