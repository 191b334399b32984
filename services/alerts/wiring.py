"""What the runtime needs to attach alerting: the opened channels and the bot token
(read from the keyring before anything starts), and the daily summary's job."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from services.alerts import reports
from services.alerts.channels import Channel, ChannelError, SecretReader, open_channels
from services.alerts.config import AlertsConfig, TelegramConfig
from services.alerts.rules import AlertRules
from services.alerts.service import AlertService
from services.events import JobStatus
from services.ops.scheduler import JobBody, JobResult

log = logging.getLogger("quantdesk.alerts")

SUMMARY_WAIT_S = 90.0  # the job waits this long for the channels' answers


@dataclass(frozen=True)
class Alerting:
    """Alerting as configured, its secrets read: what ``build_services`` attaches."""

    config: AlertsConfig = field(default_factory=AlertsConfig)
    channels: tuple[Channel, ...] = ()
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    telegram_token: str = ""


def open_alerting(alerts: AlertsConfig, telegram: TelegramConfig, read: SecretReader) -> Alerting:
    """Each channel's URL and the bot's token from the keyring. ChannelError (what to do)
    when one is missing: quantdesk does not start without the alerts it was told to send."""
    channels = open_channels(alerts, read)
    token = ""
    if telegram.control:
        token = (read(telegram.token) or "").strip()
        if not token:
            raise ChannelError(
                f"[telegram] control = true, but the keyring has no {telegram.token}: store "
                f"the bot's token (from @BotFather) with quantdesk secrets set {telegram.token}, "
                "or set control = false"
            )
    return Alerting(alerts, tuple(channels), telegram, token)


def summary_job(
    console: reports.Observed, service: AlertService | None, rules: AlertRules
) -> JobBody:
    """The daily summary: written to the log, sent to the channels that take it, and the
    job says where it went (or that it did not)."""

    def body(progress: Callable[[int, int, str], None]) -> JobResult:
        title, text = reports.daily_summary(console)
        log.info("daily summary: %s\n%s", title, text)
        if service is None:
            return "ok", f"{title} (in the log; no alert channel is configured)"
        progress(0, 1, "sending")
        outcome = service.raise_alert(rules.make("summary", title, text, "summary"), SUMMARY_WAIT_S)
        if not outcome:
            return "ok", f"{title} (in the log; no channel takes summaries)"
        sent = [c for c, o in outcome.items() if o == "sent"]
        others = [f"{c} {o}" for c, o in outcome.items() if o != "sent"]
        if not others:
            return "ok", f"{title}: sent to {', '.join(sent)}"
        failed = any(o.startswith("failed") for o in outcome.values())
        state: JobStatus = "failed" if failed else "warning"
        return state, f"{title}: sent to {', '.join(sent) or 'none'}; " + "; ".join(others)

    return body
