"""Which bus events are alerts, and their words.

Fills, refusals (by our checks or by the broker), HALT and re-arm, risk alerts,
reconciliation differences, crashed handlers and failed jobs are alerts each time.
The feed, the broker connections and the system monitor's warnings are alerts when
they *change* (a feed publishes its state at every poll; a drop is one alert, and
coming back another). The methods run on the alert service's writer thread, in the
order of the events, never on the bus's dispatcher: each reads an event's data and
returns an :class:`Alert` (or None).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from vnpy.trader.constant import Status

from services.alerts.config import AlertsConfig
from services.alerts.model import Alert
from services.clock import cst
from services.events import (
    EVENT_CONNECTION,
    EVENT_FEED,
    EVENT_HANDLER_FAILED,
    EVENT_HEALTH,
    EVENT_INTENT_REJECTED,
    EVENT_JOB,
    EVENT_ORDER,
    EVENT_RECONCILED,
    EVENT_RISK_ALERT,
    EVENT_TRADE,
    EVENT_TRADING_STATE_CHANGED,
    ConnectionChanged,
    FeedStatus,
    HandlerFailed,
    IntentRejected,
    JobUpdated,
    Reconciled,
    RiskAlert,
    TradingState,
    TradingStateChanged,
    side_of,
)

FEED_TROUBLE = ("error", "backoff", "circuit open")
_SEEN_ORDERS = 10_000  # broker rejections remembered, so a repeated update alerts once


MODE_GATEWAYS = ("SIM", "PAPER")  # the mode's own gateways' names: not a live account


def _account(gateway_name: str) -> str:
    """The live account of a gateway's order or trade ("" for the mode's own account)."""
    return "" if gateway_name in MODE_GATEWAYS else gateway_name


def _who(account: str) -> str:
    return f"[{account}] " if account else ""


def _num(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".")


class AlertRules:
    """Turns bus events into alerts; remembers the feed's, the brokers' and the system
    monitor's last state so that only changes are alerts."""

    def __init__(
        self,
        config: AlertsConfig,
        *,
        stale_s: float = 15.0,
        name_of: Callable[[str], str] | None = None,
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.config = config
        self.stale_s = stale_s  # [feed] stale_s: a quote older than this while polling
        self.name_of = name_of or (lambda vt: "")
        self.clock = clock
        self._feed_state = ""  # the last FeedStatus state
        self._feed_alerted = ""  # what was alerted of the feed: "", trouble or "stale"
        self._links: dict[str, str] = {}  # gateway -> the state last alerted
        self._warnings: dict[str, str] = {}  # system warning kind -> its words
        self._rejected: OrderedDict[str, None] = OrderedDict()

    def handlers(self) -> dict[str, Callable[[Any], Alert | list[Alert] | None]]:
        """Event type -> the rule that reads its ``data``."""
        return {
            EVENT_TRADE: self.fill,
            EVENT_INTENT_REJECTED: self.refused,
            EVENT_ORDER: self.broker_rejected,
            EVENT_TRADING_STATE_CHANGED: self.state,
            EVENT_RISK_ALERT: self.risk,
            EVENT_RECONCILED: self.reconciled,
            EVENT_CONNECTION: self.connection,
            EVENT_FEED: self.feed,
            EVENT_JOB: self.job,
            EVENT_HEALTH: self.health,
            EVENT_HANDLER_FAILED: self.handler_failed,
        }

    def make(self, kind: str, title: str, body: str, key: str, account: str = "") -> Alert:
        return Alert(kind, self.config.severity_of(kind), title, body, key, self.clock(), account)

    def _symbol(self, vt_symbol: str) -> str:
        name = self.name_of(vt_symbol)
        return f"{vt_symbol} {name}" if name else vt_symbol

    # -- orders --------------------------------------------------------------------------
    def fill(self, trade: Any) -> Alert:
        account = _account(trade.gateway_name)
        side = side_of(trade.direction).upper()
        at = f"{trade.datetime:%H:%M:%S}" if trade.datetime else ""
        return self.make(
            "fill",
            f"{_who(account)}Filled {side} {trade.volume:,.0f} {self._symbol(trade.vt_symbol)} "
            f"@ {trade.price:g}",
            f"order {trade.orderid}, trade {trade.tradeid}" + (f", {at}" if at else ""),
            f"fill:{trade.vt_tradeid}",
            account,
        )

    def refused(self, rejected: IntentRejected) -> Alert:
        intent = rejected.intent
        first = rejected.violations[0] if rejected.violations else None
        rule = first.rule if first else "?"
        price = f" @ {intent.price:g}" if intent.price else " at market"
        return self.make(
            "reject",
            f"{_who(rejected.account)}Refused {intent.side.upper()} {intent.qty:,} "
            f"{self._symbol(intent.vt_symbol)}{price} ({rule})",
            "\n".join(v.message for v in rejected.violations) + f"\nfrom {intent.source}",
            f"reject:{rejected.account}:{rule}:{intent.vt_symbol}",
            rejected.account,
        )

    def broker_rejected(self, order: Any) -> Alert | None:
        if order.status is not Status.REJECTED or order.vt_orderid in self._rejected:
            return None
        self._rejected[order.vt_orderid] = None
        if len(self._rejected) > _SEEN_ORDERS:
            self._rejected.popitem(last=False)
        account = _account(order.gateway_name)
        why = (order.extra or {}).get("reason", "") or "no reason given"
        return self.make(
            "reject",
            f"{_who(account)}Broker rejected {side_of(order.direction).upper()} "
            f"{order.volume:,.0f} {self._symbol(order.vt_symbol)}",
            f"{why} (order {order.orderid})",
            f"reject:{account}:broker:{order.vt_symbol}",
            account,
        )

    # -- trading state -------------------------------------------------------------------
    def state(self, change: TradingStateChanged) -> Alert | None:
        who = _who(change.account)
        if change.state is change.previous:
            return None
        if change.previous is TradingState.HALTED:
            rearm = self.make(
                "rearm",
                f"{who}Trading {change.state.value} (was HALTED)",
                change.reason,
                f"rearm:{change.account}",
                change.account,
            )
            return replace(rearm, resolves=f"halt:{change.account}")
        if change.state is TradingState.ACTIVE:
            return None  # REDUCING back to ACTIVE: nothing a phone needs
        return self.make(
            "halt",
            f"{who}Trading {change.state.value}",
            f"{change.reason} (since {cst(change.at)})",
            f"halt:{change.account}",
            change.account,
        )

    def risk(self, alert: RiskAlert) -> Alert:
        return self.make(
            "risk",
            f"{_who(alert.account)}RISK {alert.rule}: trading {alert.action.upper()}",
            f"{alert.message} (value {_num(alert.value)}, limit {_num(alert.limit)})",
            f"risk:{alert.account}:{alert.rule}",
            alert.account,
        )

    def reconciled(self, result: Reconciled) -> Alert | None:
        if result.error:
            body = f"could not reconcile ({result.why}): {result.error}"
        elif result.differences:
            body = "\n".join(result.differences[:10])
            if len(result.differences) > 10:
                body += f"\n… and {len(result.differences) - 10} more"
        else:
            return None
        n = len(result.differences)
        title = (
            f"[{result.account}] reconciliation failed"
            if result.error
            else f"[{result.account}] {n} difference{'s' * (n != 1)} with the broker: HALTED"
        )
        return self.make("reconcile", title, body, f"reconcile:{result.account}", result.account)

    # -- connections and the feed -----------------------------------------------------------
    def connection(self, change: ConnectionChanged) -> Alert | None:
        before = self._links.get(change.gateway, "")
        if change.state in ("RECONNECTING", "DOWN"):
            if before == change.state:
                return None
            self._links[change.gateway] = change.state
            retry = f"; retrying in {change.retry_in_s:.0f} s" if change.retry_in_s else ""
            return self.make(
                "broker",
                f"[{change.gateway}] broker {change.state}",
                f"{change.message or 'no message from the gateway'}{retry}",
                f"broker:{change.gateway}",
                change.gateway,
            )
        if change.state == "CONNECTED" and before in ("RECONNECTING", "DOWN"):
            self._links[change.gateway] = change.state
            alert = self.make(
                "broker",
                f"[{change.gateway}] broker connected again",
                f"was {before} (reconciliation runs now)",
                f"broker-up:{change.gateway}",
                change.gateway,
            )
            return _info(alert, f"broker:{change.gateway}")
        return None

    def feed(self, status: FeedStatus) -> Alert | None:
        self._feed_state = status.state
        if status.state in FEED_TROUBLE:
            if self._feed_alerted == status.state:
                return None
            self._feed_alerted = status.state
            return self.make(
                "feed",
                f"Quote feed {status.source} {status.state.upper()}",
                f"{status.detail} ({status.errors} failed polls since start)",
                "feed",
            )
        if status.state == "ok" and self._feed_alerted in FEED_TROUBLE:
            was, self._feed_alerted = self._feed_alerted, ""
            back = self.make("feed", f"Quote feed {status.source} back", f"was {was}", "feed-up")
            return _info(back, "feed")
        return None

    # -- the machine and the jobs ------------------------------------------------------------
    def health(self, health: Any) -> list[Alert]:
        """Quotes gone stale while the feed polls the sessions (and fresh again), and new
        warnings of the system monitor (one alert lists them)."""
        out: list[Alert] = []
        age = health.feed_age_s
        stale = self._feed_state == "ok" and age is not None and age > self.stale_s
        if stale and self._feed_alerted != "stale":
            self._feed_alerted = "stale"
            out.append(
                self.make(
                    "feed",
                    f"Quotes STALE: the newest is {age:,.0f} s old",
                    f"the feed polls but nothing newer than {self.stale_s:g} s arrives "
                    "(orders on stale quotes are refused)",
                    "feed:stale",
                )
            )
        elif not stale and self._feed_alerted == "stale":
            self._feed_alerted = ""
            fresh = self.make(
                "feed", "Quotes fresh again", f"newest {age or 0:,.0f} s old", "feed-fresh"
            )
            out.append(_info(fresh, "feed:stale"))
        kinds = {w.split(" ", 1)[0]: w for w in health.warnings}
        new = [w for k, w in kinds.items() if k not in self._warnings]
        self._warnings = kinds
        if new:
            out.append(
                self.make(
                    "system",
                    "System: " + "; ".join(new),
                    "over its [monitor] limit now: " + "; ".join(health.warnings),
                    "system:" + ",".join(sorted(kinds)),
                )
            )
        return out

    def job(self, update: JobUpdated) -> Alert | None:
        if update.state != "failed":
            return None
        kind = "backup" if update.name == "backup" else "job"
        return self.make(
            kind,
            f"Job {update.name} FAILED",
            f"{update.detail} (after {update.seconds:.1f} s)",
            f"job:{update.name}",
        )

    def handler_failed(self, failed: HandlerFailed) -> Alert | None:
        if failed.count != 1:
            return None  # the first failure of a handler; the bus counts the rest
        return self.make(
            "error",
            f"A bus handler crashed: {failed.handler}",
            f"on {failed.event_type}: {failed.error} (the bus went on; see the log)",
            f"error:{failed.handler}",
        )


def _info(alert: Alert, resolves: str) -> Alert:
    """The good news of a kind (a broker or the feed back): informational whatever the
    kind, and it ends the de-duplication of the trouble it resolves."""
    return replace(alert, severity="info", resolves=resolves)
