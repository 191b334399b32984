"""Flatten after a halt: one reduce-only closing order per position, priced inside the
price band, and what cannot be closed today (T+1, no quote), in words."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from services.accounting.book import PositionView
from services.events import OrderIntent
from services.instruments import Universe
from services.market import MarketCache
from services.trading.orders import SubmitResult


@dataclass(frozen=True)
class FlattenPlan:
    """The closing orders, and what stays open (in words)."""

    intents: list[OrderIntent]
    notes: list[str]

    def lines(self) -> list[str]:
        """One line per closing order, as the confirmation shows it."""
        return [
            f"SELL {i.qty:,} {i.vt_symbol} limit {i.price:g} (reduce-only)" for i in self.intents
        ]


def plan_flatten(
    positions: Sequence[PositionView], market: MarketCache, universe: Universe, band: float
) -> FlattenPlan:
    """A limit sell of every sellable share, half the price band under the bid (never
    under the day's limit-down), so it fills now and passes the band rule."""
    intents: list[OrderIntent] = []
    notes: list[str] = []
    for pos in positions:
        tick = market.get(pos.vt_symbol)
        if pos.sellable <= 0:
            notes.append(f"{pos.vt_symbol}: {pos.qty} held, none sellable today (T+1)")
            continue
        if tick is None or not tick.bid_price_1:
            notes.append(f"{pos.vt_symbol}: no bid to price a closing order against")
            continue
        inst = universe.get(pos.vt_symbol)
        price = inst.round_price(max(tick.bid_price_1 * (1 - band / 2), tick.limit_down))
        intents.append(
            OrderIntent(
                f"flatten-{uuid.uuid4().hex[:10]}",
                pos.vt_symbol,
                "sell",
                "limit",
                pos.sellable,
                price,
                source="flatten",
            )
        )
        if pos.sellable < pos.qty:
            notes.append(f"{pos.vt_symbol}: {pos.qty - pos.sellable} bought today stay (T+1)")
    return FlattenPlan(intents, notes)


def outcome(results: Sequence[SubmitResult]) -> tuple[int, list[str]]:
    """How many closing orders went out, and each refusal in words."""
    refused = [
        f"{r.intent.vt_symbol}: " + "; ".join(v.message for v in r.violations)
        for r in results
        if not r.accepted
    ]
    return sum(r.accepted for r in results), refused
