"""The words of a phone's answers (/status, /positions, /pnl, /orders) and of the daily
summary: plain text, short lines, read on a small screen."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from services.clock import cst
from services.trading.desk import Desk

MAX_LINES = 40  # a phone's screen, and far below Telegram's 4096 characters


class Observed(Protocol):
    """What the reports read (services.runtime.Services, which this layer may not import)."""

    mode: str
    desks: list[Desk]
    health: Any
    gateway: Any


def _money(value: float) -> str:
    return f"{value:+,.0f}" if value else "0"


def _name(desk: Desk, several: bool) -> str:
    return f"[{desk.id}] " if several and desk.id else ""


def _cap(lines: list[str]) -> str:
    if len(lines) > MAX_LINES:
        lines = [*lines[:MAX_LINES], f"… and {len(lines) - MAX_LINES} more lines"]
    return "\n".join(lines)


def status(s: Observed) -> str:
    several = len(s.desks) > 1
    lines = [f"quantdesk {s.mode} · {cst(datetime.now(), '%Y-%m-%d %H:%M:%S')}"]
    links = getattr(s.health, "gateways", {}) if s.health is not None else {}
    for desk in s.desks:
        control, view = desk.control, desk.portfolio.view()
        reason = f" ({control.reason})" if control.reason and control.state.name != "ACTIVE" else ""
        lines.append(f"{_name(desk, several)}trading {control.state.name}{reason}")
        link = links.get(desk.id)
        lines.append(
            f"  equity {view.equity:,.0f} · day {_money(view.day_pnl)} "
            f"({view.day_pnl_pct:+.2%}) · {len(view.positions)} positions · "
            f"{len(desk.orders.working_ids())} working" + (f" · broker {link}" if link else "")
        )
    feed = getattr(s.gateway, "status", None)
    if feed is not None:
        lines.append(f"feed {feed.source}: {feed.state} ({feed.detail})")
    health = getattr(s.health, "latest", None)
    if health is not None:
        lines.append(("⚠ " + "; ".join(health.warnings)) if health.warnings else health.line())
    return _cap(lines)


def positions(s: Observed) -> str:
    several = len(s.desks) > 1
    lines: list[str] = []
    for desk in s.desks:
        view = desk.portfolio.view()
        if several:
            lines.append(f"[{desk.id}]")
        if not view.positions:
            lines.append("no positions")
        for p in view.positions:
            lines.append(
                f"{p.vt_symbol} {p.qty:,} (sellable {p.sellable:,}) avg {p.avg_price:g} "
                f"last {p.last:g} · unreal {_money(p.unrealized)} · day {_money(p.day_pnl)}"
            )
    return _cap(lines)


def pnl(s: Observed) -> str:
    several = len(s.desks) > 1
    lines = []
    for desk in s.desks:
        v = desk.portfolio.view()
        lines.append(
            f"{_name(desk, several)}day {_money(v.day_pnl)} ({v.day_pnl_pct:+.2%}) · "
            f"equity {v.equity:,.0f} · cash {v.cash:,.0f}"
        )
        lines.append(f"  realized {_money(v.realized)} · unrealized {_money(v.unrealized)}")
    return _cap(lines)


def orders(s: Observed) -> str:
    several = len(s.desks) > 1
    lines = []
    for desk in s.desks:
        working = desk.orders.working()
        if several:
            lines.append(f"[{desk.id}]")
        if not working:
            lines.append("no working orders")
        for vt_orderid, intent, traded in working:
            price = f"@ {intent.price:g}" if intent.price else "at market"
            lines.append(
                f"{intent.side.upper()} {intent.qty:,} {intent.vt_symbol} {price} · "
                f"{traded:,} traded · {vt_orderid.split('.')[-1]} ({intent.source})"
            )
    return _cap(lines)


@dataclass(frozen=True)
class DaySummary:
    """What the daily summary says of one account."""

    account: str
    equity: float
    day_pnl: float
    day_pnl_pct: float
    realized: float
    unrealized: float
    exposure: float  # positions' value / equity
    positions: int
    fills: int
    bought: float  # notional
    sold: float
    fees: float
    rejects: tuple[tuple[str, int], ...]  # rule -> refusals, most first
    halts: int


def summarize(desk: Desk, since: datetime) -> DaySummary:
    """One account's day: its ledger now, and its journal since ``since``."""
    view = desk.portfolio.view()
    fills = desk.journal.entries("fill", since=since)
    bought = sum(
        f["payload"]["price"] * f["payload"]["volume"]
        for f in fills
        if f["payload"]["direction"] == "LONG"
    )
    sold = sum(
        f["payload"]["price"] * f["payload"]["volume"]
        for f in fills
        if f["payload"]["direction"] != "LONG"
    )
    fees = sum(f["payload"].get("fee") or 0.0 for f in fills)
    rules: Counter[str] = Counter()
    for entry in desk.journal.entries("intent", since=since):
        payload = entry["payload"]
        if payload.get("verdict") == "rejected":
            rules.update(v.get("rule", "?") for v in payload.get("violations", []))
    halts = len(desk.journal.entries("state", ref="HALTED", since=since))
    return DaySummary(
        desk.id,
        view.equity,
        view.day_pnl,
        view.day_pnl_pct,
        view.realized,
        view.unrealized,
        view.market_value / view.equity if view.equity else 0.0,
        len(view.positions),
        len(fills),
        bought,
        sold,
        fees,
        tuple(rules.most_common(5)),
        halts,
    )


def daily_summary(s: Observed, now: datetime | None = None) -> tuple[str, str]:
    """The summary after the close (title, body): each account's P&L, trades, exposure
    and worst rule hits over the last 24 hours."""
    now = now or datetime.now()
    since = now - timedelta(hours=24)
    days = [summarize(d, since) for d in s.desks]
    total = sum(d.day_pnl for d in days)
    title = f"quantdesk {s.mode} day: {_money(total)} CNY, {sum(d.fills for d in days)} fills"
    lines = []
    for d in days:
        who = f"[{d.account}] " if len(days) > 1 and d.account else ""
        lines.append(
            f"{who}P&L {_money(d.day_pnl)} ({d.day_pnl_pct:+.2%}) · realized {_money(d.realized)}"
            f" · unrealized {_money(d.unrealized)} · equity {d.equity:,.0f}"
        )
        lines.append(
            f"  {d.fills} fills: bought {d.bought:,.0f}, sold {d.sold:,.0f}, fees {d.fees:,.2f}"
        )
        lines.append(f"  exposure {d.exposure:.0%} of equity in {d.positions} positions")
        hits = ", ".join(f"{rule} ×{n}" for rule, n in d.rejects) or "none"
        lines.append(f"  refused by rule: {hits}" + (f" · {d.halts} HALT(s)" if d.halts else ""))
    return title, _cap(lines)
