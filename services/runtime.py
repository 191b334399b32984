"""Builds and owns the services: one place that wires the bus handlers in order.

Handler order matters and is fixed here: the journal records broker events
first, then our ledger and order tracking update, and only then (registered
by the console after this) does the UI bridge see them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vnpy.event import Event

from services.bus import Bus
from services.control import TradingControl
from services.costs import CostConfig
from services.events import (
    EVENT_LOG,
    EVENT_ORDER,
    EVENT_SESSION_ROLLED,
    EVENT_TICK,
    EVENT_TRADE,
)
from services.instruments import DEFAULT_UNIVERSE, Instrument, Universe
from services.journal import Journal
from services.market import MarketCache
from services.orders import OrderService
from services.portfolio import Portfolio
from services.settings import require
from services.sim_gateway import SimGateway
from services.simulator import SimConfig
from services.store import Store, store_uri

log = logging.getLogger("quantdesk.runtime")
gateway_log = logging.getLogger("quantdesk.gateway")


@dataclass(frozen=True)
class AccountConfig:
    """The paper account ([account] in config.toml)."""

    initial_cash: float = 1_000_000.0
    """Cash the paper account starts with, CNY."""

    def __post_init__(self) -> None:
        require(self.initial_cash > 0, "initial_cash", "must be a positive amount of CNY")


@dataclass
class Services:
    """Everything behind the screen; the App gets this injected."""

    data_dir: Path
    bus: Bus
    journal: Journal
    universe: Universe
    market: MarketCache
    gateway: SimGateway
    portfolio: Portfolio
    control: TradingControl
    orders: OrderService
    store: Store
    mode: str = "DEMO"
    paced: bool = True
    started: bool = False

    def start(self) -> None:
        """Start dispatching and open the market (non-blocking)."""
        if self.started:
            return
        self.bus.start()
        self.gateway.connect({"paced": self.paced})
        self.started = True

    def stop(self) -> None:
        if not self.started:
            return
        self.gateway.close()
        self.bus.stop()
        self.journal.close()
        self.started = False

    def kill_switch(self, reason: str = "kill switch") -> list[str]:
        """HALT first (nothing new goes out), then cancel every working order.

        Called directly from the UI thread: it never waits behind the bus queue.
        """
        self.control.halt(reason)
        return self.orders.cancel_all(reason)


def _log_gateway(event: Event) -> None:
    data: Any = event.data
    gateway_log.info("%s", data.msg)


def build_services(
    data_dir: Path,
    *,
    sim: SimConfig,
    costs: CostConfig,
    account: AccountConfig,
    instruments: tuple[Instrument, ...] = DEFAULT_UNIVERSE,
    paced: bool = True,
    store: str = "",
) -> Services:
    """Create the services over the simulated market and paper account."""
    data_dir.mkdir(parents=True, exist_ok=True)
    bus = Bus()
    journal = Journal(data_dir / "journal.sqlite3")
    universe = Universe(instruments)
    market = MarketCache()
    gateway = SimGateway(bus, universe, sim, costs, account.initial_cash)
    portfolio = Portfolio(universe, costs, account.initial_cash, market)
    control = TradingControl(journal, bus)
    orders = OrderService(
        bus=bus,
        journal=journal,
        gateway=gateway,
        universe=universe,
        market=market,
        portfolio=portfolio,
        control=control,
        costs=costs,
    )
    # Order matters: journal first, then our ledgers; the UI bridge registers last.
    bus.register(EVENT_ORDER, journal.on_order)
    bus.register(EVENT_TRADE, journal.on_trade)
    bus.register(EVENT_TICK, market.on_tick)
    bus.register(EVENT_TRADE, portfolio.on_trade)
    bus.register(EVENT_ORDER, orders.on_order)
    bus.register(EVENT_SESSION_ROLLED, portfolio.on_session_rolled)
    bus.register(EVENT_LOG, _log_gateway)
    return Services(
        data_dir=data_dir,
        bus=bus,
        journal=journal,
        universe=universe,
        market=market,
        gateway=gateway,
        portfolio=portfolio,
        control=control,
        orders=orders,
        store=Store(store_uri(store, data_dir), log_file=data_dir / "logs" / "arcticdb.log"),
        paced=paced,
    )
