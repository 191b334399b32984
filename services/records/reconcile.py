"""Reconciliation: the journal against the broker's own statement, the broker deciding.

Run at every connect and on demand. Everything the broker knows and the journal
does not is adopted into the journal -- marked as found at reconciliation, so
the record says when and how we learned it -- and whatever still differs after
that is listed for the trader and HALTs the account:

- an order journaled as submitted with no send recorded (the process stopped
  between the journal and the gateway's answer) is looked up by its reference:
  the broker has it (adopted as sent) or never received it (journaled as
  unsent);
- a trade the journal lacks is adopted, ours (by order id or reference) or
  external (an order placed from another terminal, listed as such);
- an order the journal has open that the broker filled further or finished
  (filled, cancelled, rejected) takes the broker's state;
- a fee the broker charged that differs from the one booked is adjusted and
  listed (fees come from trade reports when the broker gives them, otherwise
  from the cost model);
- then the ledger is rebuilt from the journal and its cash and every position
  compared with the statement. A difference left there has no explanation in
  any order or trade (a transfer, a position changed outside): it HALTs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.accounting.statement import BrokerOrder, BrokerTrade, Statement
from services.records.journal import Journal
from services.records.recovery import ACTIVE, fill_id, rebuild

CASH_TOLERANCE = 0.01  # CNY: brokers round fees to the fen


@dataclass(frozen=True)
class FeeDifference:
    vt_tradeid: str
    vt_symbol: str
    booked: float
    broker: float


@dataclass
class Reconciliation:
    """What a reconciliation found and did; ``differences`` are unexplained (HALT)."""

    adopted_orders: list[BrokerOrder] = field(default_factory=list)  # sent, never confirmed
    unsent: list[str] = field(default_factory=list)  # intent ids the broker never received
    updated_orders: list[BrokerOrder] = field(default_factory=list)  # finished at the broker
    adopted_fills: list[BrokerTrade] = field(default_factory=list)
    external_orders: list[BrokerOrder] = field(default_factory=list)
    external_fills: list[BrokerTrade] = field(default_factory=list)
    fees: list[FeeDifference] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)

    @property
    def halt(self) -> bool:
        return bool(self.differences)

    def lines(self) -> list[str]:
        """What happened, in words (the log, the CLI, the reconciliation screen)."""
        out = [
            f"order {o.vt_orderid} ({o.reference}) found at the broker" for o in self.adopted_orders
        ]
        out += [f"intent {i} never reached the broker: journaled as unsent" for i in self.unsent]
        out += [
            f"order {o.vt_orderid} is {o.status} at the broker, {o.traded} of {o.qty} filled"
            for o in self.updated_orders
        ]
        out += [
            f"fill {t.vt_tradeid} ({t.side} {t.qty} {t.vt_symbol} @ {t.price}) adopted"
            for t in self.adopted_fills
        ]
        out += [
            f"external order {o.vt_orderid}: {o.side} {o.qty} {o.vt_symbol} @ {o.price}, {o.status}"
            for o in self.external_orders
        ]
        out += [
            f"fee of {f.vt_tradeid}: booked {f.booked:.2f}, broker {f.broker:.2f}"
            for f in self.fees
        ]
        return out + self.differences


def reconcile(journal: Journal, statement: Statement, initial_cash: float) -> Reconciliation:
    """Adopt what the broker knows into ``journal`` and list what still differs."""
    seen = _Journaled(journal.entries())
    result = Reconciliation()
    rows: list[tuple[str, str, Any]] = []
    for intent_id in seen.in_flight():
        order = statement.order(intent_id)
        if order is None:
            result.unsent.append(intent_id)
            rows.append(("unsent", intent_id, {"found_at_reconciliation": True}))
            continue
        result.adopted_orders.append(order)
        seen.sent[order.vt_orderid] = intent_id
        rows.append(
            ("sent", order.vt_orderid, {"intent_id": intent_id, "found_at_reconciliation": True})
        )
    ours = set(seen.sent)
    for order in statement.orders:
        mine = order.vt_orderid in ours or order.reference in seen.intents
        if not mine:
            result.external_orders.append(order)
            continue
        status, traded = seen.status.get(order.vt_orderid, ("SENT", 0))
        if status in ACTIVE and (order.status, order.traded) != (status, traded):
            result.updated_orders.append(order)  # filled further, or finished, meanwhile
            rows.append(("order", order.vt_orderid, _order(order)))
    broker_ids = {o.vt_orderid for o in statement.orders}
    for vt_orderid in ours:
        if seen.status.get(vt_orderid, ("SENT", 0))[0] in ACTIVE and vt_orderid not in broker_ids:
            result.differences.append(
                f"order {vt_orderid} is open in the journal but unknown to the broker"
            )
    for trade in statement.trades:
        booked = seen.fees.get(trade.vt_tradeid)
        if booked is None:
            external = not (trade.vt_orderid in ours or trade.reference in seen.intents)
            (result.external_fills if external else result.adopted_fills).append(trade)
            rows.append(("fill", trade.vt_orderid, _fill(trade, external)))
        elif trade.fee is not None and abs(booked - trade.fee) > CASH_TOLERANCE / 2:
            result.fees.append(FeeDifference(trade.vt_tradeid, trade.vt_symbol, booked, trade.fee))
            rows.append(
                (
                    "fee_adjust",
                    trade.vt_tradeid,
                    {"vt_symbol": trade.vt_symbol, "booked": booked, "broker": trade.fee},
                )
            )
    if rows:
        journal.record_many(rows)
    ledger = rebuild(journal, initial_cash).book
    if abs(ledger.cash - statement.cash) > CASH_TOLERANCE:
        result.differences.append(
            f"cash: the journal's ledger {ledger.cash:,.2f}, the broker {statement.cash:,.2f} "
            f"({statement.cash - ledger.cash:+,.2f} unexplained by any order or trade)"
        )
    for symbol in sorted(set(ledger.positions) | set(statement.positions)):
        ours_qty, theirs = ledger.qty(symbol), statement.positions.get(symbol, 0)
        if ours_qty != theirs:
            result.differences.append(
                f"{symbol}: the journal's ledger holds {ours_qty}, the broker {theirs} "
                "(no order or trade explains it)"
            )
    return result


class _Journaled:
    """What the journal says about orders and trades, read once."""

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.intents: set[str] = set()
        self.submitted: list[str] = []
        self.sent: dict[str, str] = {}  # vt_orderid -> intent id
        self.status: dict[str, tuple[str, int]] = {}  # vt_orderid -> last (status, traded)
        self.fees: dict[str, float] = {}  # vt_tradeid -> the fee booked
        unsent: set[str] = set()
        for entry in entries:
            kind, ref, payload = entry["kind"], entry["ref"], entry["payload"]
            if kind == "intent":
                self.intents.add(ref)
            elif kind == "submit":
                self.submitted.append(ref)
            elif kind == "sent":
                self.sent[ref] = payload["intent_id"]
            elif kind == "order":
                self.status[ref] = (payload["status"], int(payload.get("traded") or 0))
            elif kind == "fill":
                self.fees.setdefault(fill_id(entry), float(payload.get("fee") or 0.0))
            elif kind == "fee_adjust":
                self.fees[ref] = float(payload["broker"])
            elif kind == "opening":  # trades already in the opening balance
                self.fees.update({t: float(f) for t, f in payload.get("trades", {}).items()})
            elif kind == "unsent":
                unsent.add(ref)
        self._unsent = unsent

    def in_flight(self) -> list[str]:
        """Intents journaled as submitted whose send was never recorded nor resolved."""
        done = set(self.sent.values()) | self._unsent
        return [i for i in self.submitted if i not in done]


def _order(order: BrokerOrder) -> dict[str, Any]:
    return {
        "vt_symbol": order.vt_symbol,
        "direction": "LONG" if order.side == "buy" else "SHORT",
        "price": order.price,
        "volume": order.qty,
        "traded": order.traded,
        "status": order.status,
        "reason": order.message,
        "found_at_reconciliation": True,
    }


def _fill(trade: BrokerTrade, external: bool) -> dict[str, Any]:
    return {
        "vt_tradeid": trade.vt_tradeid,
        "vt_symbol": trade.vt_symbol,
        "direction": "LONG" if trade.side == "buy" else "SHORT",
        "price": trade.price,
        "volume": trade.qty,
        "fee": trade.fee,
        "found_at_reconciliation": True,
        "external": external,
    }
