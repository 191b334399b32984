"""Limits watched while trading, not per order: the day's loss and drawdown.

On the bus's one-second timer the monitor marks the account, raises the day's
peak equity, and HALTs trading (journaled, persisted, published) with a
``RiskAlert`` when the day's loss or the fall from the peak reaches its
limit. It acts once per breach; re-arming is the trader's decision.
"""

from __future__ import annotations

import logging
from datetime import datetime

from vnpy.event import Event

from services.bus import Bus
from services.control import TradingControl
from services.events import EVENT_RISK_ALERT, RiskAlert, TradingState
from services.orders import OrderService
from services.portfolio import Portfolio
from services.risk import RiskConfig

log = logging.getLogger("quantdesk.risk")


class RiskMonitor:
    def __init__(
        self,
        bus: Bus,
        portfolio: Portfolio,
        control: TradingControl,
        orders: OrderService,
        config: RiskConfig,
    ) -> None:
        self.bus = bus
        self.portfolio = portfolio
        self.control = control
        self.orders = orders
        self.config = config
        self.alerts: list[RiskAlert] = []

    def on_timer(self, event: Event) -> None:
        self.check()

    def on_session_rolled(self, event: Event) -> None:
        self.orders.new_day()

    def check(self) -> RiskAlert | None:
        """Mark the account; HALT with an alert on a loss or drawdown breach."""
        view = self.portfolio.view()
        orders = self.orders
        orders.day_peak_equity = max(orders.day_peak_equity, view.equity)
        if self.control.state is TradingState.HALTED:
            return None
        cfg, peak = self.config, orders.day_peak_equity
        alert = None
        if cfg.max_daily_loss and -view.day_pnl >= cfg.max_daily_loss:
            alert = RiskAlert(
                "daily_loss",
                f"day loss {-view.day_pnl:,.0f} reached the {cfg.max_daily_loss:,.0f} limit",
                round(-view.day_pnl, 2),
                cfg.max_daily_loss,
                "halted",
                datetime.now(),
            )
        elif (
            cfg.max_drawdown_pct
            and peak > 0
            and (peak - view.equity) / peak >= cfg.max_drawdown_pct
        ):
            dd = (peak - view.equity) / peak
            alert = RiskAlert(
                "drawdown",
                f"equity {dd:.1%} below the day's peak {peak:,.0f} "
                f"(limit {cfg.max_drawdown_pct:.0%})",
                round(dd, 4),
                cfg.max_drawdown_pct,
                "halted",
                datetime.now(),
            )
        if alert is None:
            return None
        self.control.halt(f"risk: {alert.message}")
        self.alerts.append(alert)
        log.error("RISK ALERT %s: %s; trading HALTED", alert.rule, alert.message)
        self.bus.publish(EVENT_RISK_ALERT, alert)
        return alert
