"""The single order path over a broker gateway in another process."""

from __future__ import annotations

import time

from services.events import OrderIntent
from services.runtime import Services
from services.venues.scripted import ScriptedGateway
from tests.unit.venues.conftest import Broker


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
    services: Services, broker: Broker
) -> None:
    gateway = ScriptedGateway(services.bus)
    gateway.connect({"socket": str(broker.path)})
    _until(gateway, "CONNECTED")
    services.orders.gateway = gateway  # live mode builds the order service over this gateway
    result = services.orders.submit(_intent(services, "live-1"))
    assert result.accepted, result.violations
    orders = broker.call("state")["orders"]
    assert [(o["reference"], o["status"], o["volume"]) for o in orders] == [
        ("live-1", "NOTTRADED", 100)
    ]
    kinds = [
        e["kind"] for e in services.journal.entries() if e["ref"] in ("live-1", result.vt_orderid)
    ]
    # Written ahead of the call; the gateway's SUBMITTING update may be journaled (by the
    # bus thread) before or after the send's own entry.
    assert kinds[:2] == ["intent", "submit"] and "sent" in kinds
    gateway.close()


def test_nothing_goes_out_while_the_broker_is_not_connected(
    services: Services, broker: Broker
) -> None:
    gateway = ScriptedGateway(services.bus)
    gateway.connect({"socket": str(broker.path) + ".gone"})
    _until(gateway, "RECONNECTING")
    services.orders.gateway = gateway
    result = services.orders.submit(_intent(services, "live-2"))
    assert not result.accepted
    assert result.violations[0].rule == "connection"
    assert "not connected to the broker (RECONNECTING since" in result.violations[0].message
    assert "cannot reach the broker" in result.violations[0].message
    kinds = [e["kind"] for e in services.journal.entries() if e["ref"] == "live-2"]
    assert kinds == ["intent"]  # refused and journaled as such; no submit
    assert broker.call("state")["orders"] == []
    gateway.close()
