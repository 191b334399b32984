"""The single order path over a broker gateway in another process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.events import OrderIntent
from services.runtime import Services
from services.venues.scripted import ScriptedGateway
from tests.conftest import make_services
from tests.unit.venues.conftest import Broker


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Services]:
    """Started services (the simulated market gives the quotes the checks need)."""
    svc = make_services(tmp_path)
    svc.start()
    assert svc.bus.wait_idle()
    yield svc
    svc.stop()


def _intent(services: Services, intent_id: str) -> OrderIntent:
    tick = services.market.get("600519.SSE")
    assert tick is not None
    return OrderIntent(intent_id, "600519.SSE", "buy", "limit", 100, round(tick.bid_price_1, 2))


def _until(gateway: ScriptedGateway, state: str) -> None:
    deadline = time.monotonic() + 5
    while gateway.state.state != state:
        assert time.monotonic() < deadline, gateway.state
        time.sleep(0.01)


def test_an_order_reaches_the_broker_with_its_intent_id_after_the_journal(
    live: Services, broker: Broker
) -> None:
    gateway = ScriptedGateway(live.bus)
    gateway.connect({"socket": str(broker.path)})
    _until(gateway, "CONNECTED")
    live.orders.gateway = gateway  # live mode builds the order service over this gateway
    result = live.orders.submit(_intent(live, "live-1"))
    assert result.accepted, result.violations
    orders = broker.call("state")["orders"]
    assert [(o["reference"], o["status"], o["volume"]) for o in orders] == [
        ("live-1", "NOTTRADED", 100)
    ]
    kinds = [e["kind"] for e in live.journal.entries() if e["ref"] in ("live-1", result.vt_orderid)]
    # Written ahead of the call; the gateway's SUBMITTING update may be journaled (by the
    # bus thread) before or after the send's own entry.
    assert kinds[:2] == ["intent", "submit"] and "sent" in kinds
    gateway.close()


def test_nothing_goes_out_while_the_broker_is_not_connected(live: Services, broker: Broker) -> None:
    gateway = ScriptedGateway(live.bus)
    gateway.connect({"socket": str(broker.path) + ".gone"})
    _until(gateway, "RECONNECTING")
    live.orders.gateway = gateway
    result = live.orders.submit(_intent(live, "live-2"))
    assert not result.accepted
    assert result.violations[0].rule == "connection"
    assert "not connected to the broker (RECONNECTING since" in result.violations[0].message
    assert "cannot reach the broker" in result.violations[0].message
    kinds = [e["kind"] for e in live.journal.entries() if e["ref"] == "live-2"]
    assert kinds == ["intent"]  # refused and journaled as such; no submit
    assert broker.call("state")["orders"] == []
    gateway.close()
