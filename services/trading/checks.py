"""Pre-trade checks shared by the order ticket and the order path.

:func:`check_intent` is pure: given what is known about the instrument, the
quote, the account and the trading state, it returns every violation, each
naming the ticket field it concerns so that the ticket can show it inline.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.accounting.costs import CostConfig, fees_for
from services.events import OrderIntent, TradingState, Violation
from services.instruments import Instrument


@dataclass(frozen=True)
class CheckContext:
    """What the checks need to know, read at one moment."""

    instrument: Instrument | None
    limit_down: float
    limit_up: float
    ref_price: float  # price used for a market order's notional (ask for buys, bid for sells)
    sellable: int  # T+1 sellable less working sells
    position_qty: int
    available_cash: float  # cash less working buys
    state: TradingState
    state_reason: str = ""


def estimated_cost(
    intent: OrderIntent, ctx: CheckContext, costs: CostConfig
) -> tuple[float, float]:
    """(notional, fees) the intent would cost at its price (or the touch for market orders)."""
    inst = ctx.instrument
    price = intent.price if intent.kind == "limit" and intent.price else ctx.ref_price
    notional = intent.qty * price
    if inst is None or intent.qty <= 0 or price <= 0:
        return notional, 0.0
    fee = fees_for(
        costs, is_etf=inst.kind == "etf", is_sell=intent.side == "sell", qty=intent.qty, price=price
    )
    return notional, fee.total


def check_intent(intent: OrderIntent, ctx: CheckContext, costs: CostConfig) -> list[Violation]:
    """Every reason ``intent`` must not go out; empty when it may."""
    out: list[Violation] = []
    if ctx.state is TradingState.HALTED:
        why = f" ({ctx.state_reason})" if ctx.state_reason else ""
        out.append(
            Violation(
                "state",
                "halted",
                f"Trading is HALTED{why}: no order goes out until you re-arm it.",
                value="HALTED",
            )
        )
    elif ctx.state is TradingState.REDUCING and (
        intent.side == "buy" or intent.qty > ctx.position_qty
    ):
        out.append(
            Violation(
                "state",
                "reducing",
                "Trading is REDUCING: only orders that reduce a position are accepted.",
                value="REDUCING",
            )
        )
    inst = ctx.instrument
    if inst is None:
        out.append(
            Violation(
                "symbol",
                "unknown_symbol",
                f"Unknown symbol {intent.vt_symbol!r}: not listed in this market.",
                value=intent.vt_symbol,
            )
        )
        return out
    out += _check_qty(intent, ctx, inst)
    if intent.kind == "limit":
        out += _check_price(intent, ctx, inst)
    if intent.side == "buy" and not any(v.field in ("qty", "price") for v in out):
        notional, fee = estimated_cost(intent, ctx, costs)
        if notional + fee > ctx.available_cash + 1e-6:
            out.append(
                Violation(
                    "qty",
                    "cash",
                    f"Needs {notional + fee:,.2f} CNY with fees; "
                    f"{ctx.available_cash:,.2f} available.",
                    value=f"{notional + fee:.2f}",
                    limit=f"{ctx.available_cash:.2f}",
                )
            )
    return out


def _check_qty(intent: OrderIntent, ctx: CheckContext, inst: Instrument) -> list[Violation]:
    qty = intent.qty
    if qty <= 0:
        return [
            Violation(
                "qty", "qty_positive", "Quantity must be a positive whole number.", value=str(qty)
            )
        ]
    odd_lot_exit = intent.side == "sell" and qty == ctx.position_qty
    if qty % inst.lot and not odd_lot_exit:
        return [
            Violation(
                "qty",
                "lot_size",
                f"Quantity {qty} is not a multiple of the lot size {inst.lot}.",
                value=str(qty),
                limit=str(inst.lot),
            )
        ]
    if intent.side == "sell" and qty > ctx.sellable:
        held_today = ctx.position_qty - ctx.sellable
        extra = f" ({held_today} bought today unlock tomorrow, T+1)" if held_today > 0 else ""
        return [
            Violation(
                "qty",
                "t_plus_1",
                f"Selling {qty} but only {ctx.sellable} sellable{extra}.",
                value=str(qty),
                limit=str(ctx.sellable),
            )
        ]
    return []


def _check_price(intent: OrderIntent, ctx: CheckContext, inst: Instrument) -> list[Violation]:
    price = intent.price
    fmt = f"{{:.{inst.decimals}f}}"
    if price is None or price <= 0:
        return [
            Violation(
                "price", "price_positive", "Price must be greater than zero.", value=str(price)
            )
        ]
    if not inst.is_on_tick(price):
        return [
            Violation(
                "price",
                "price_tick",
                f"Price {price} is not a multiple of the tick {fmt.format(inst.tick)}.",
                value=str(price),
                limit=str(inst.tick),
            )
        ]
    if not ctx.limit_down <= price <= ctx.limit_up:
        band = f"{fmt.format(ctx.limit_down)}–{fmt.format(ctx.limit_up)}"
        return [
            Violation(
                "price",
                "price_limit",
                f"Price {fmt.format(price)} is outside today's limits {band}.",
                value=str(price),
                limit=band,
            )
        ]
    return []
