"""Orders: every order of the session, working ones first; cancel by key."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from vnpy.trader.constant import Direction, OrderType, Status
from vnpy.trader.object import OrderData

from panes.format import palette, right
from panes.keys import bindings
from panes.table import KeyedTable

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
        self.border_title = "Orders"

    def on_mount(self) -> None:
        # Status fits in 72 columns; the note (why rejected / cancelled) scrolls.
        self.add_column("Time", key="time", width=8)
        self.add_column("ID", key="id", width=4)
        self.add_column("Symbol", key="symbol", width=11)
        self.add_column("Side", key="side", width=4)
        self.add_column(right("Price"), key="price", width=8)
        self.add_column(right("Qty"), key="qty", width=6)
        self.add_column(right("Filled"), key="filled", width=6)
        self.add_column("Status", key="status", width=9)
        self.add_column("Note", key="note", width=40)

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
            cells = self._cells(order)
            if previous is None:
                self.add_row(*cells, key=order.vt_orderid)
            else:
                for column, value in zip(
                    ("price", "filled", "status", "note"),
                    (cells[4], cells[6], cells[7], cells[8]),
                    strict=True,
                ):
                    self.update_cell(order.vt_orderid, column, value)
            resort = resort or previous is None or previous.is_active() != order.is_active()
        if resort:
            self.sort(key=self._order_key)
        self.border_subtitle = f"{len(self.working)} working · {len(self.orders)} today"

    def _order_key(self, row: list[object]) -> tuple[bool, int]:
        """Working orders first, then newest first (order ids are sequence numbers)."""
        orderid = str(row[1])
        order = self._by_orderid.get(orderid)
        active = order is not None and order.is_active()
        return (not active, -int(orderid) if orderid.isdigit() else 0)

    @staticmethod
    def _cells(order: OrderData) -> tuple[object, ...]:
        text, style = STATUS_TEXT.get(order.status, (order.status.name, ""))
        side = "BUY" if order.direction == Direction.LONG else "SELL"
        when = order.datetime.strftime("%H:%M:%S") if order.datetime else ""
        return (
            when,
            order.orderid,
            order.vt_symbol,
            Text(side, style=f"bold {palette.up if side == 'BUY' else palette.down}"),
            right(
                f"{order.price:.3f}".rstrip("0").rstrip(".")
                if order.type == OrderType.LIMIT
                else "market"
            ),
            right(f"{order.volume:,.0f}"),
            right(f"{order.traded:,.0f}"),
            Text(text, style=style),
            (order.extra or {}).get("reason", ""),
        )

    @property
    def selected(self) -> str | None:
        return self.selected_key

    def action_cancel_order(self) -> None:
        if self.selected:
            self.post_message(self.CancelRequested(self.selected))

    def action_cancel_all(self) -> None:
        self.post_message(self.CancelAllRequested())
