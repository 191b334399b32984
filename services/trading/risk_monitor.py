"""Limits watched while trading, not per order: the day's loss and drawdown.

On the bus's one-second timer the monitor marks the account, raises the day's
peak equity, and HALTs trading (journaled, persisted, published) with a
``RiskAlert`` when the day's loss or the fall from the peak reaches its
limit. It acts once per breach; re-arming is the trader's decision.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from dataclasses import dataclass, fields, replace
from datetime import datetime

from vnpy.event import Event

from services.accounting.portfolio import Portfolio
from services.bus import Bus
from services.events import EVENT_RISK_ALERT, IntentRejected, RiskAlert, TradingState
from services.settings import ConfigValueError
from services.trading.control import TradingControl
from services.trading.orders import OrderService
from services.trading.risk import RiskConfig

OVERRIDES_KEY = "risk_overrides"
# Limits where a larger number allows more; 0 turns any of them off (the loosest setting).
NUMERIC = tuple(f.name for f in fields(RiskConfig) if f.type in ("int", "float", int, float))


@dataclass(frozen=True)
class LimitUse:
    """One limit and how much of it is used now."""

    name: str
    label: str
    used: float
    limit: float  # 0 = off

    @property
    def fraction(self) -> float:
        return self.used / self.limit if self.limit else 0.0


class NeedsConfirmation(ValueError):
    """Loosening a limit: the caller must confirm first."""


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
        self.rejections: deque[tuple[datetime, IntentRejected]] = deque(maxlen=50)
        saved = orders.journal.get_state(OVERRIDES_KEY)
        if saved:  # limits changed live survive a restart
            overrides = {k: v for k, v in json.loads(saved).items() if k in NUMERIC}
            try:
                self._apply(replace(config, **overrides))
                log.warning("risk limits changed live are in force: %s", overrides)
            except (ConfigValueError, TypeError) as exc:
                log.error("saved risk limit changes ignored (%s): %s", exc, overrides)

    def on_rejected(self, event: Event) -> None:
        self.rejections.appendleft((datetime.now(), event.data))

    def usage(self) -> list[LimitUse]:
        """The limits a trader watches, each with its current use."""
        view = self.portfolio.view()
        cfg, orders = self.config, self.orders
        equity = view.equity or 1.0
        biggest = max((p.market_value for p in view.positions), default=0.0)
        peak = max(orders.day_peak_equity, view.equity)
        ctx = orders.risk_snapshot()
        return [
            LimitUse(
                "max_position_value", "Largest position, CNY", biggest, cfg.max_position_value
            ),
            LimitUse(
                "max_position_pct",
                "Largest position, % of equity",
                biggest / equity,
                cfg.max_position_pct,
            ),
            LimitUse(
                "max_gross_exposure",
                "Gross exposure, % of equity",
                view.market_value / equity,
                cfg.max_gross_exposure,
            ),
            LimitUse(
                "max_daily_loss", "Day loss, CNY", max(0.0, -view.day_pnl), cfg.max_daily_loss
            ),
            LimitUse(
                "max_drawdown_pct",
                "Drawdown from the day's peak",
                (peak - view.equity) / peak if peak else 0.0,
                cfg.max_drawdown_pct,
            ),
            LimitUse(
                "max_orders_per_minute",
                "Orders in the last minute",
                ctx["per_minute"],
                cfg.max_orders_per_minute,
            ),
            LimitUse("max_active_orders", "Working orders", ctx["active"], cfg.max_active_orders),
            LimitUse("max_orders_per_day", "Orders today", ctx["today"], cfg.max_orders_per_day),
            # per-order limits: nothing accumulates, the limit is what matters
            LimitUse("max_order_qty", "One order, shares", 0.0, cfg.max_order_qty),
            LimitUse("max_order_notional", "One order, CNY", 0.0, cfg.max_order_notional),
            LimitUse(
                "max_orders_per_second",
                "Orders in any second",
                ctx["per_second"],
                cfg.max_orders_per_second,
            ),
            LimitUse(
                "max_cancels_per_symbol",
                "Cancels of one symbol today",
                ctx["cancels"],
                cfg.max_cancels_per_symbol,
            ),
            LimitUse("duplicate_window_s", "Duplicate order window", 0.0, cfg.duplicate_window_s),
            LimitUse("price_band_pct", "Price band around the last", 0.0, cfg.price_band_pct),
            LimitUse("stale_quote_s", "Oldest quote an order may use", 0.0, cfg.stale_quote_s),
        ]

    def set_limit(
        self, name: str, value: float, *, confirmed: bool = False, by: str = "user"
    ) -> str:
        """Change one limit now; loosening raises NeedsConfirmation unless ``confirmed``."""
        if name not in NUMERIC:
            raise ValueError(f"{name} is not a numeric risk limit")
        old = getattr(self.config, name)
        typed = type(old)(value)
        loosening = (typed == 0 and old != 0) or (old != 0 and typed > old)
        if loosening and not confirmed:
            off = " (0 turns it off)" if typed == 0 else ""
            raise NeedsConfirmation(
                f"{name} {_num(old)} → {_num(typed)} loosens a limit{off}: confirm to apply"
            )
        new = replace(self.config, **{name: typed})  # validates (ConfigValueError)
        self._apply(new)
        saved = json.loads(self.orders.journal.get_state(OVERRIDES_KEY) or "{}")
        saved[name] = typed
        self.orders.journal.set_state(
            OVERRIDES_KEY,
            json.dumps(saved),
            ("limit", name, {"old": old, "new": typed, "loosened": loosening, "by": by}),
        )
        log.warning(
            "risk limit %s %g → %g (%s)", name, old, typed, "loosened" if loosening else "tightened"
        )
        return "loosened" if loosening else "tightened"

    def _apply(self, config: RiskConfig) -> None:
        self.config = config
        self.orders.risk = config

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
        if self.control.account:  # several accounts: whose limit
            alert = replace(
                alert,
                message=f"account {self.control.account}: {alert.message}",
                account=self.control.account,
            )
        self.control.halt(f"risk: {alert.message}")
        self.alerts.append(alert)
        log.error("RISK ALERT %s: %s; trading HALTED", alert.rule, alert.message)
        self.bus.publish(EVENT_RISK_ALERT, alert)
        return alert


def _num(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:g}"  # plain: a typed number
