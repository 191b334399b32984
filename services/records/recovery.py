"""Rebuild what the console knew from the journal: after a crash, a SIGKILL, or for
``quantdesk state`` from another shell while the console runs.

The journal is the record: fills rebuild the ledger (positions, cash, realized
P&L, with day rolls for T+1), the last update of each order says whether it is
still open, an order sent but never acknowledged is open with status SENT, and
the trading state is the persisted one. Nothing here talks to a broker;
``reconcile`` compares the rebuilt view with the broker's and lists every
difference so that none is hidden.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from services.accounting.book import Book, BookError, Side
from services.events import OrderIntent, OrderKind
from services.records.journal import Journal

ACTIVE = {"SUBMITTING", "NOTTRADED", "PARTTRADED", "SENT"}


@dataclass(frozen=True)
class OpenOrder:
    vt_orderid: str
    intent_id: str
    vt_symbol: str
    side: str
    kind: str
    qty: int
    price: float | None
    traded: int
    status: str  # the last broker status, or SENT when none arrived

    def intent(self) -> OrderIntent:
        side: Side = "buy" if self.side == "buy" else "sell"
        kind: OrderKind = "market" if self.kind == "market" else "limit"
        return OrderIntent(self.intent_id, self.vt_symbol, side, kind, self.qty, self.price)


@dataclass
class Rebuilt:
    book: Book
    open_orders: list[OpenOrder]
    state: str
    state_reason: str
    entries: int
    fills: int
    max_order_number: int  # the highest numeric broker order id seen: new ids go above it
    max_trade_number: int
    problems: list[str] = field(default_factory=list)  # fills the ledger could not take
    pending: list[dict[str, Any]] = field(default_factory=list)  # proposals awaiting review
    trade_ids: set[str] = field(default_factory=set)  # booked: a broker repeating one is known
    unreadable: int = 0  # entries that could not be read: the account is HALTED for them

    @classmethod
    def fresh(cls, initial_cash: float) -> Rebuilt:
        """An account nothing has traded in yet: ACTIVE, its initial cash, no positions."""
        return cls(Book(initial_cash), [], "ACTIVE", "", 0, 0, 0, 0)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (``quantdesk state --json``)."""
        positions = [
            {
                "vt_symbol": p.vt_symbol,
                "qty": p.qty,
                "sellable": p.sellable,
                "avg_price": round(p.avg_price, 6),
                "realized": round(p.realized, 2),
                "last_fill_or_close": p.last,
            }
            for p in sorted(self.book.positions.values(), key=lambda p: p.vt_symbol)
            if p.qty
        ]
        return {
            "state": self.state,
            "state_reason": self.state_reason,
            "cash": round(self.book.cash, 2),
            "realized": round(
                self.book.closed_realized + sum(p.realized for p in self.book.positions.values()),
                2,
            ),
            "positions": positions,
            "open_orders": [o.__dict__ for o in self.open_orders],
            "pending_intents": self.pending,
            "journal_entries": self.entries,
            "fills": self.fills,
            "problems": self.problems,
        }


UNREADABLE_KEY = "unreadable_entries"  # how many were halted for (state table)


def rebuild(journal: Journal, initial_cash: float) -> Rebuilt:
    """Replay the journal into a ledger, the open orders and the trading state."""
    book = Book(initial_cash)
    intents: dict[str, dict[str, Any]] = {}
    sent: dict[str, str] = {}  # vt_orderid -> intent_id
    last_update: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    fills = max_order = max_trade = 0
    seen_trades: set[str] = set()
    proposed: dict[str, dict[str, Any]] = {}
    unreadable: list[str] = []  # entries with a field missing or not of its kind
    entries = journal.entries()
    for entry in entries:
        kind, ref, payload = entry["kind"], entry["ref"], entry["payload"]
        try:
            if kind == "intent":
                intents[ref] = payload["intent"]
            elif kind == "sent":
                sent[ref] = payload["intent_id"]
                max_order = max(max_order, _number(ref))
            elif kind == "order":
                last_update[ref] = payload
                max_order = max(max_order, _number(ref))
            elif kind == "fill":
                trade_id = fill_id(entry)
                if trade_id in seen_trades:  # a fill journaled twice is booked once
                    continue
                seen_trades.add(trade_id)
                max_trade = max(max_trade, _number(trade_id))
                side: Side = "buy" if payload["direction"] == "LONG" else "sell"
                try:
                    book.apply_fill(
                        payload["vt_symbol"],
                        side,
                        int(payload["volume"]),
                        float(payload["price"]),
                        float(payload.get("fee") or 0.0),
                    )
                    fills += 1
                except BookError as exc:
                    problems.append(f"fill {trade_id} not booked: {exc}")
            elif kind == "opening":  # a broker account adopted: its balance and holdings then
                book = Book(float(payload["cash"]))
                costs = payload.get("costs", {})
                for symbol, qty in payload.get("positions", {}).items():
                    held = book.position(symbol)
                    held.qty = held.sellable = held.sod_qty = int(qty)
                    held.avg_price = float(costs.get(symbol, 0.0))  # the broker's cost basis
                seen_trades.update(payload.get("trades", {}))  # in the balance: not booked again
            elif kind == "fee_adjust":  # the broker charged another fee than the one booked
                book.charge(
                    payload["vt_symbol"], float(payload["broker"]) - float(payload["booked"])
                )
            elif kind == "proposed":
                if not payload.get("auto"):
                    proposed[ref] = payload
            elif kind in ("approved", "declined"):
                proposed.pop(ref, None)
            elif kind == "day":
                book.roll_day({k: float(v) for k, v in payload.get("closes", {}).items()})
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # fails safe: HALTED
            unreadable.append(f"entry {entry['seq']} ({kind}): {type(exc).__name__} {exc}")

    open_orders = []
    for vt_orderid, intent_id in sent.items():
        update = last_update.get(vt_orderid)
        status = update["status"] if update else "SENT"
        if status not in ACTIVE:
            continue
        intent = intents.get(intent_id, {})
        open_orders.append(
            OpenOrder(
                vt_orderid,
                intent_id,
                intent.get("vt_symbol", update["vt_symbol"] if update else ""),
                intent.get("side", ""),
                intent.get("kind", ""),
                int(intent.get("qty", 0)),
                intent.get("price"),
                int(update["traded"]) if update else 0,
                status,
            )
        )
    saved = journal.trading_state()
    state, reason = (saved[0], saved[1]) if saved is not None else ("ACTIVE", "")
    earlier = journal.earlier_failure()
    if earlier:  # read-only here (quantdesk state): the next start persists it
        state, reason = "HALTED", f"a journal write failed in an earlier session ({earlier})"
    if unreadable:
        state = "HALTED"
        reason = (
            f"the journal holds {len(unreadable)} entries quantdesk cannot read (the first: "
            f"{unreadable[0]}): HALTED until you check them (quantdesk journal export) and "
            "re-arm"
        )
        problems = [*problems, *(f"unreadable {u}" for u in unreadable[:20])]
    rebuilt = Rebuilt(
        book, open_orders, state, reason, len(entries), fills, max_order, max_trade, problems
    )
    rebuilt.pending = list(proposed.values())
    rebuilt.trade_ids = seen_trades
    rebuilt.unreadable = len(unreadable)
    return rebuilt


def reconcile(rebuilt: Rebuilt, broker: Book, broker_orders: set[str]) -> list[str]:
    """Every difference between the journal's view and the broker's, in words."""
    out = []
    if abs(rebuilt.book.cash - broker.cash) > 0.005:
        out.append(f"cash: journal {rebuilt.book.cash:,.2f}, broker {broker.cash:,.2f}")
    for symbol in sorted(set(rebuilt.book.positions) | set(broker.positions)):
        ours, theirs = rebuilt.book.qty(symbol), broker.qty(symbol)
        if ours != theirs:
            out.append(f"{symbol}: journal holds {ours}, broker {theirs}")
    for order in rebuilt.open_orders:
        if order.vt_orderid not in broker_orders:
            out.append(
                f"order {order.vt_orderid} ({order.side} {order.qty} {order.vt_symbol}) is open "
                f"in the journal ({order.status}) but unknown to the broker"
            )
    return out


def fill_id(entry: dict[str, Any]) -> str:
    """A journaled fill's trade id (a fill journaled without one: its order and sequence)."""
    return str(entry["payload"].get("vt_tradeid") or f"{entry['ref']}#{entry['seq']}")


def _number(vt_id: str) -> int:
    """The numeric part of ``SIM.17`` (0 when there is none)."""
    tail = vt_id.rsplit(".", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def is_restored(note: str) -> bool:
    """Whether a start-up note says what was restored (information, not a warning)."""
    return "restored from the journal" in note


def restore(
    journal: Journal,
    portfolio: Any,
    broker: Any,
    orders: Any,
    initial_cash: float,
    halt: Callable[[str], object] | None = None,
) -> tuple[list[str], list[dict[str, Any]], list[Any]]:
    """At start: the ledger, the paper venue's account and its working orders from the
    journal; what happened, in words; the proposals still awaiting review; and the
    restored orders (to publish once the bus runs).

    Working limit orders are working again at the paper venue (a broker keeps day
    orders when its client crashes) and tracked by the order service. An order that
    cannot be restored (a market order caught in flight) is journaled as cancelled and
    listed: nothing is dropped silently.
    """
    rebuilt = rebuild(journal, initial_cash)
    if not rebuilt.entries:
        return [], [], []
    seen = int(journal.get_state(UNREADABLE_KEY) or 0) if not journal.readonly else 0
    if rebuilt.unreadable > seen and halt is not None:  # new ones since the last re-arm
        halt(rebuilt.state_reason)  # persisted, with the count: re-armed once, not each start
        journal.set_state(UNREADABLE_KEY, str(rebuilt.unreadable))
    portfolio.restore(copy.deepcopy(rebuilt.book), rebuilt.trade_ids)
    held = sum(1 for p in rebuilt.book.positions.values() if p.qty)
    notes = [
        f"restored from the journal: {rebuilt.fills} fills, {held} positions, "
        f"cash {rebuilt.book.cash:,.2f}, trading {rebuilt.state}"
    ]
    if broker is None:  # a real broker kept its orders: tracked again, reconciled at connect
        for order in rebuilt.open_orders:
            orders.adopt(order.vt_orderid, order.intent(), order.traded)
        if rebuilt.open_orders:
            notes.append(
                f"{len(rebuilt.open_orders)} orders open when the process stopped: tracked "
                "again, checked against the broker when it connects"
            )
        return notes + rebuilt.problems, rebuilt.pending, []
    broker.restore(copy.deepcopy(rebuilt.book), rebuilt.max_order_number, rebuilt.max_trade_number)
    candidates = [(o.vt_orderid, o.intent(), o.traded) for o in rebuilt.open_orders]
    restored = broker.restore_orders(candidates)
    back = {o.vt_orderid for o in restored}
    for (vt_orderid, intent, traded), order in zip(candidates, rebuilt.open_orders, strict=True):
        if vt_orderid in back:
            orders.adopt(vt_orderid, intent, traded)
            continue
        journal.record(
            "order",
            order.vt_orderid,
            {
                "vt_symbol": order.vt_symbol,
                "direction": "LONG" if order.side == "buy" else "SHORT",
                "type": order.kind.upper(),
                "price": order.price,
                "volume": order.qty,
                "traded": order.traded,
                "status": "CANCELLED",
                "reason": "lost at restart: it was in flight when the process stopped",
                "at": None,
            },
        )
        notes.append(
            f"order {order.vt_orderid} ({order.side} {order.qty} {order.vt_symbol}, "
            f"{order.traded} filled, was {order.status}) was in flight when the process "
            "stopped: journaled as cancelled"
        )
    if restored:
        notes.append(f"{len(restored)} orders working before the stop are working again")
    if rebuilt.pending:
        notes.append(
            f"{len(rebuilt.pending)} strategy proposals were awaiting review when the process "
            "stopped: back in the review queue, stale until edited"
        )
    notes += rebuilt.problems
    return notes, rebuilt.pending, restored
