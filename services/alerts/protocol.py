"""The courier's wire format (services.alerts.courier): alerts as JSON rows, channel
states back. Light on purpose: the trading process imports it, not apprise."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.alerts.config import AlertsConfig
from services.alerts.model import Alert, ChannelState

if TYPE_CHECKING:
    from services.alerts.channels import Channel


def alert_row(a: Alert) -> list[str]:
    """An alert as a JSON row (cheap: a burst is a thousand of them)."""
    return [a.kind, a.severity, a.title, a.body, a.key, a.at.isoformat(), a.account, a.resolves]


def alert_from_row(row: list[str]) -> Alert:
    kind, severity, title, body, key, at, account, resolves = row
    return Alert(kind, severity, title, body, key, datetime.fromisoformat(at), account, resolves)  # type: ignore[arg-type]


def state_from_json(doc: dict[str, Any]) -> ChannelState:
    since = doc.get("failing_since")
    return ChannelState(
        **{**doc, "failing_since": datetime.fromisoformat(since) if since else None}
    )


def init_message(config: AlertsConfig, channels: list[Channel], data_dir: Path) -> dict[str, Any]:
    """The first line: everything the child needs, the URLs included."""
    flat = {k: v for k, v in asdict(config).items() if k != "channels"}
    return {
        "init": {
            "data_dir": str(data_dir),
            "config": flat,
            "channels": [
                {
                    **asdict(c.config),
                    "url": c.url,
                    "timeout_s": c.timeout_s,
                    "min_gap_s": c.min_gap_s,
                }
                for c in channels
            ],
        }
    }
