"""The simulated market as a vnpy gateway, with paper fills.

A :class:`BaseGateway` subclass, so the rest of quantdesk talks to it exactly
as to a broker's gateway: contracts, ticks, orders, trades, positions and
account events on the bus. A producer thread paces :class:`SimMarket` at
``ticks_per_second``; tests call :meth:`advance` instead for exact replay.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import date
from typing import Any

from vnpy.trader.gateway import BaseGateway
from vnpy.trader.object import (
    OrderData,
    OrderRequest,
    SubscribeRequest,
)

from services.accounting.costs import CostConfig
from services.bus import Bus
from services.events import EVENT_SESSION_ROLLED, SessionRolled
from services.instruments import Universe
from services.venues.paper import PaperBroker, Update
from services.venues.paper_venue import PaperVenue, to_tick
from services.venues.simulator import SimConfig, SimMarket

log = logging.getLogger("quantdesk.sim")

MAX_BURST_S = 0.25  # if the producer falls behind by more, it skips ahead


class SimGateway(PaperVenue, BaseGateway):
    """A seeded simulated A-share market with a paper account behind it."""

    default_name = "SIM"

    def __init__(
        self,
        bus: Bus,
        universe: Universe,
        sim: SimConfig,
        costs: CostConfig,
        initial_cash: float,
        gateway_name: str = "SIM",
    ) -> None:
        super().__init__(bus, gateway_name)
        self.bus = bus
        self.universe = universe
        self.market = SimMarket(universe.instruments, sim)
        self.broker = PaperBroker(universe, costs, initial_cash, gateway_name)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rate = sim.ticks_per_second

    @property
    def trading_day(self) -> date:
        return self.market.trading_day

    def starts_at(self) -> None:
        """Live history is the store's up to now: nothing to cut (a replay's is)."""
        return None

    def set_prev_closes(self, closes: dict[str, float]) -> None:
        """Open the simulated day at yesterday's stored closes."""
        self.market.set_prev_closes(closes)

    # -- BaseGateway -------------------------------------------------------------
    def connect(self, setting: dict[str, Any]) -> None:
        """Publish contracts, quotes and the account; start pacing unless ``paced`` is False."""
        self.publish_contracts(self.universe)
        with self._lock:
            for quote in self.market.quotes():
                self.on_tick(to_tick(quote, self.universe.get(quote.vt_symbol), self.gateway_name))
        self.query_account()
        if setting.get("paced", True):
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="sim-market", daemon=True)
            self._thread.start()
        self.write_log(
            f"simulated market open: {len(self.universe)} instruments, seed "
            f"{self.market.config.seed}, speed {self.market.config.speed:g}x"
        )

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def subscribe(self, req: SubscribeRequest) -> None:
        """Every listed instrument streams; nothing to do."""

    def send_order(self, req: OrderRequest) -> str:
        with self._lock:
            quote = self.market.quote(req.vt_symbol) if req.vt_symbol in self.universe else None
            if quote is None:
                quote = self.market.quotes()[0]  # broker rejects the unknown symbol below
            updates = self.broker.submit(req, quote, self.market.clock)
        self._publish(updates)
        order = updates[0]
        assert isinstance(order, OrderData)
        return str(order.vt_orderid)

    # -- simulation -------------------------------------------------------------
    def advance(self, steps: int) -> None:
        """Produce ``steps`` quotes now (deterministic; the pacing thread calls this too)."""
        for _ in range(steps):
            with self._lock:
                quote, rolled = self.market.step()
                updates: list[Update] = []
                if rolled:
                    closes = {q.vt_symbol: q.prev_close for q in self.market.quotes()}
                    updates += self.broker.roll_day(closes)
                    self.bus.publish(
                        EVENT_SESSION_ROLLED, SessionRolled(self.market.trading_day, closes)
                    )
                updates += self.broker.on_quote(quote)
                tick = to_tick(quote, self.universe.get(quote.vt_symbol), self.gateway_name)
            self.on_tick(tick)
            self._publish(updates)

    def _run(self) -> None:
        start = time.perf_counter()
        produced = 0
        while not self._stop.is_set():
            due = int((time.perf_counter() - start) * self._rate) - produced
            if due > self._rate * MAX_BURST_S:  # fell behind (suspended?): skip, don't burst
                produced += due - int(self._rate * MAX_BURST_S)
                due = int(self._rate * MAX_BURST_S)
            if due > 0:
                try:
                    self.advance(due)
                except Exception:  # never let the market die silently
                    log.exception("simulated market step failed; stopping the feed")
                    self.write_log("simulated market stopped after an internal error (see log)")
                    return
                produced += due
            self._stop.wait(0.01)
