"""Orders: every order of the session, working ones first; cancel by key."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from vnpy.trader.constant import Direction, OrderType, Status
from vnpy.trader.object import OrderData

from panes.format import count, palette, right
from panes.keys import bindings
from panes.table import Col, KeyedTable

STATUS_TEXT = {
    Status.SUBMITTING: ("SENDING", "yellow"),
    Status.NOTTRADED: ("WORKING", "bold yellow"),
    Status.PARTTRADED: ("PARTIAL", "bold yellow"),
    Status.ALLTRADED: ("FILLED", "green"),
    Status.CANCELLED: ("CANCELLED", "dim"),
    Status.REJECTED: ("REJECTED", "bold red"),
}


class Orders(KeyedTable):
    """Rows keyed by vt_orderid; ``update_order`` applies one broker update."""

    BINDINGS = bindings("orders")

    @dataclass
    class CancelRequested(Message):
        vt_orderid: str

    class CancelAllRequested(Message):
        """Cancel every working order (without halting)."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)
        self.orders: dict[str, OrderData] = {}
        self._by_orderid: dict[str, OrderData] = {}
        self.border_title = "Orders (times: the market's clock)"

    # the note (why rejected or cancelled) is cut to its column; the selected order's
    # whole note is in the subtitle
    COLUMNS = (
        Col("time", "Time", 8, priority=2),
        Col("id", "ID", 4),
        Col("symbol", "Symbol", 11),
        Col("side", "Side", 4),
        Col("price", right("Price"), 8),
        Col("qty", right("Qty"), 6),
        Col("filled", right("Filled"), 6, priority=1),
        Col("status", "Status", 9),
        Col("note", "Note", 12, fill=True, priority=3),  # the width left after the rest
    )

    @property
    def working(self) -> list[str]:
        return [k for k, o in self.orders.items() if o.is_active()]

    def update_orders(self, orders: list[OrderData]) -> None:
        """Apply a batch of order updates; re-sort once if any order appeared or finished."""
        resort = False
        for order in orders:
            previous = self.orders.get(order.vt_orderid)
            self.orders[order.vt_orderid] = order
            self._by_orderid[order.orderid] = order
            self.put(order.vt_orderid, self._cells(order))
            resort = resort or previous is None or previous.is_active() != order.is_active()
        if resort:
            self.sort(key=self._order_key)
        self._status()

    def reset(self, orders: list[OrderData]) -> None:
        """Show only ``orders`` (another account's, after a switch)."""
        self.clear_rows()
        self.orders.clear()
        self._by_orderid.clear()
        self.update_orders(orders)

    def _status(self) -> None:
        text = f"{len(self.working):,} working · {count(len(self.orders), 'order')} today"
        order = self.orders.get(self.selected_key or "")
        note = (order.extra or {}).get("reason", "") if order is not None else ""
        self.set_status(f"{text} · {order.orderid}: {note}" if note and order else text)

    def on_data_table_row_highlighted(self) -> None:
        self._status()  # the whole note of the order under the cursor

    def _order_key(self, row: list[object]) -> tuple[bool, int]:
        """Working orders first, then newest first (order ids are sequence numbers)."""
        orderid = str(row[self.column_index("id")])
        order = self._by_orderid.get(orderid)
        active = order is not None and order.is_active()
        return (not active, -int(orderid) if orderid.isdigit() else 0)

    @staticmethod
    def _cells(order: OrderData) -> dict[str, object]:
        text, style = STATUS_TEXT.get(order.status, (order.status.name, ""))
        if (order.extra or {}).get("unknown"):  # sent, then the broker connection dropped
            text, style = "UNKNOWN", "bold reverse yellow"
        side = "BUY" if order.direction == Direction.LONG else "SELL"
        when = order.datetime.strftime("%H:%M:%S") if order.datetime else ""
        return {
            "time": when,
            "id": order.orderid,
            "symbol": order.vt_symbol,
            "side": Text(side, style=f"bold {palette.up if side == 'BUY' else palette.down}"),
            "price": right(
                f"{order.price:.3f}".rstrip("0").rstrip(".")
                if order.type == OrderType.LIMIT
                else "market"
            ),
            "qty": right(f"{order.volume:,.0f}"),
            "filled": right(f"{order.traded:,.0f}"),
            "status": Text(text, style=style),
            "note": (order.extra or {}).get("reason", ""),
        }

    @property
    def selected(self) -> str | None:
        return self.selected_key

    def action_cancel_order(self) -> None:
        if self.selected:
            self.post_message(self.CancelRequested(self.selected))

    def action_cancel_all(self) -> None:
        self.post_message(self.CancelAllRequested())
