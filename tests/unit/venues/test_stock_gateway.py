"""Live mode over a stock vnpy gateway: connected when its account data arrives, and
reconciled from the events it published (services/trading/gateway_link.py)."""

from __future__ import annotations

import time
from pathlib import Path

from services.events import EVENT_CONNECTION, EVENT_RECONCILED, OrderIntent, TradingState
from services.venues.accounts import AccountSpec
from tests.unit.venues.conftest import Broker, live_services


def _until(test: object, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not test():  # type: ignore[operator]
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_a_stock_gateway_is_reconciled_from_its_own_events(tmp_path: Path, broker: Broker) -> None:
    broker.call("external", symbol="600036", exchange="SSE", volume=200, price=35.0, fill=True)
    spec = AccountSpec(
        "x1", "tests.unit.venues.stock:StockGateway", {"socket": str(broker.path)}, quotes="sim"
    )
    services = live_services(tmp_path / "data", spec)
    events: list[tuple[str, object]] = []
    for kind in (EVENT_CONNECTION, EVENT_RECONCILED):
        services.bus.register(kind, lambda e, k=kind: events.append((k, e.data)))  # type: ignore[misc]
    services.start()
    try:
        _until(lambda: any(k == EVENT_RECONCILED for k, _ in events))
        states = [d.state for k, d in events if k == EVENT_CONNECTION]  # type: ignore[attr-defined]
        assert states == ["CONNECTING", "CONNECTED"]  # from its account data, not its own word
        result = next(d for k, d in events if k == EVENT_RECONCILED)
        assert result.error == "" and result.differences == ()  # type: ignore[attr-defined]
        assert services.portfolio.qty("600036.SSE") == 200
        assert services.portfolio.cash == broker.call("state")["cash"]
        tick = services.market.get("600519.SSE")
        assert tick is not None
        intent = OrderIntent("x-1", "600519.SSE", "buy", "limit", 100, round(tick.bid_price_1, 2))
        assert services.orders.submit(intent).accepted
        # A position changed outside shows as a difference here too, and halts.
        broker.call("set_position", symbol="601318", exchange="SSE", volume=500)
        services.venue.query_position()
        assert services.watch is not None and services.watch.reconcile()
        _until(lambda: services.control.state is TradingState.HALTED)
        assert "601318.SSE" in services.control.reason
    finally:
        services.stop()
