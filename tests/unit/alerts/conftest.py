"""Fixtures for alerting: local stand-ins of the services (tests/alert_servers.py) and
channels that deliver to them for real, through apprise."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.alerts.channels import Channel
from services.alerts.config import ChannelConfig
from services.alerts.model import Severity
from tests.alert_servers import BotAPI, HTTPStandIn


@pytest.fixture
def http() -> Iterator[HTTPStandIn]:
    server = HTTPStandIn()
    yield server
    server.close()


@pytest.fixture
def bot() -> Iterator[BotAPI]:
    api = BotAPI()
    yield api
    api.close()


def json_channel(
    server: HTTPStandIn,
    name: str = "phone",
    min_severity: Severity = "info",
    kinds: tuple[str, ...] = (),
    timeout_s: float = 2.0,
) -> Channel:
    """A channel to apprise's json:// plugin on the stand-in (POST /<name>)."""
    return Channel(
        ChannelConfig(name, f"alerts.{name}", min_severity, kinds),
        f"json://127.0.0.1:{server.port}/{name}",
        timeout_s,
        min_gap_s=0.0,
    )
