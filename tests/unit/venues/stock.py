"""The scripted broker's gateway behaving as a stock vnpy gateway (vnpy_ctp, vnpy_xtp):
it publishes no connection state and answers no statement query, only the account,
positions, orders and trades it pushes at login."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.events import ConnectionChanged
from services.venues.scripted import ScriptedGateway


class StockGateway(ScriptedGateway):
    publishes_connection = False
    statement = None  # type: ignore[assignment]  # no statement query

    def _set(self, state: Any, message: str, retry_in_s: float = 0.0) -> None:
        """Keeps its state (its own send_order needs it) but publishes nothing."""
        self.state = ConnectionChanged(self.gateway_name, state, datetime.now(), message)
