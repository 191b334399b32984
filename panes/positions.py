"""Positions: quantity, cost, last, unrealized / realized / day P&L, live."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from panes.format import money, right, signed
from panes.keys import bindings
from panes.table import KeyedTable
from services.book import AccountView, PositionView
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

    def on_mount(self) -> None:
        # Fits 84 columns; names are on the watchlist.
        self.add_column("Symbol", key="symbol", width=11)
        self.add_column(right("Qty"), key="qty", width=6)
        self.add_column(right("Avail"), key="sellable", width=6)
        self.add_column(right("Avg"), key="avg", width=8)
        self.add_column(right("Last"), key="last", width=8)
        self.add_column(right("Unrl P&L"), key="unrealized", width=9)
        self.add_column(right("Real P&L"), key="realized", width=9)
        self.add_column(right("Day P&L"), key="day", width=9)

    def update_account(self, account: AccountView) -> None:
        self.account = account
        seen = set()
        for pos in account.positions:
            seen.add(pos.vt_symbol)
            if pos.vt_symbol not in self.rows:
                self.add_row(*self._cells(pos), key=pos.vt_symbol)
                continue
            for column, value in zip(
                ("qty", "sellable", "avg", "last", "unrealized", "realized", "day"),
                self._cells(pos)[1:],
                strict=True,
            ):
                self.update_cell(pos.vt_symbol, column, value)
        for key in [k for k in self.rows if k.value not in seen]:
            self.remove_row(key)
        self.border_subtitle = (
            f"MV {money(account.market_value)} · Unrl {account.unrealized:+,.2f} · "
            f"Real {account.realized:+,.2f} · Day {account.day_pnl:+,.2f}"
        )

    def _cells(self, pos: PositionView) -> tuple[object, ...]:
        inst = self.instruments.get(pos.vt_symbol)
        decimals = inst.decimals if inst else 2
        return (
            pos.vt_symbol,
            right(f"{pos.qty:,}"),
            right(f"{pos.sellable:,}"),
            right(f"{pos.avg_price:.{decimals}f}" if pos.qty else "—"),
            right(f"{pos.last:.{decimals}f}"),
            signed(pos.unrealized),
            signed(pos.realized),
            signed(pos.day_pnl),
        )

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
