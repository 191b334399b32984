"""Positions: quantity, cost, last, unrealized / realized / day P&L, live."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from panes.format import money, right, signed
from panes.keys import bindings
from panes.table import Col, KeyedTable
from services.accounting.book import AccountView, PositionView
from services.instruments import Instrument


class Positions(KeyedTable):
    """Rows keyed by vt_symbol; ``update_account`` applies a marked account."""

    BINDINGS = bindings("positions")

    @dataclass
    class TicketRequested(Message):
        vt_symbol: str
        side: str
        qty: int

    def __init__(self, instruments: dict[str, Instrument], **kw: object) -> None:
        super().__init__(**kw)
        self.instruments = instruments
        self.account: AccountView | None = None
        self.border_title = "Positions"

    # names are on the watchlist; 120 columns hide the average and realized P&L first
    COLUMNS = (
        Col("symbol", "Symbol", 11),
        Col("qty", right("Qty"), 7),
        Col("sellable", right("Avail"), 7, priority=1),
        Col("avg", right("Avg"), 8, priority=4),
        Col("last", right("Last"), 8, priority=2),
        Col("unrealized", right("Unrl P&L"), 10),
        Col("realized", right("Real P&L"), 10, priority=5),
        Col("day", right("Day P&L"), 10, priority=3),
    )

    def update_account(self, account: AccountView) -> None:
        self.account = account
        seen = set()
        for pos in account.positions:
            seen.add(pos.vt_symbol)
            self.put(pos.vt_symbol, self._cells(pos))
        for key in [k.value for k in self.rows if k.value not in seen]:
            self.drop(str(key))
        self.set_status(
            f"MV {money(account.market_value)} · Unrl {account.unrealized:+,.2f} · "
            f"Real {account.realized:+,.2f} · Day {account.day_pnl:+,.2f}"
        )

    def _cells(self, pos: PositionView) -> dict[str, object]:
        inst = self.instruments.get(pos.vt_symbol)
        decimals = inst.decimals if inst else 2
        return {
            "symbol": pos.vt_symbol,
            "qty": right(f"{pos.qty:,}"),
            "sellable": right(f"{pos.sellable:,}"),
            "avg": right(f"{pos.avg_price:.{decimals}f}" if pos.qty else "—"),
            "last": right(f"{pos.last:.{decimals}f}"),
            "unrealized": signed(pos.unrealized),
            "realized": signed(pos.realized),
            "day": signed(pos.day_pnl),
        }

    @property
    def selected(self) -> PositionView | None:
        key = self.selected_key
        if key is None or self.account is None:
            return None
        return next((p for p in self.account.positions if p.vt_symbol == key), None)

    def action_ticket(self, side: str) -> None:
        pos = self.selected
        if pos is not None:
            qty = pos.sellable if side == "sell" else 0
            self.post_message(self.TicketRequested(pos.vt_symbol, side, qty))
