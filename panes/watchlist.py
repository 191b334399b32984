"""Watchlist: live quotes with an intraday sparkline; keyboard sort, add, remove, trade."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from vnpy.trader.object import TickData

from panes.format import count, pct, right, sparkline, volume
from panes.keys import bindings
from panes.table import Col, KeyedTable
from services.instruments import Instrument

SORTS = ("symbol", "change", "last", "volume")
SPARK_WIDTH = 22


class Watchlist(KeyedTable):
    """Rows keyed by vt_symbol; ``update_quotes`` applies one coalesced frame."""

    BINDINGS = bindings("watchlist")
    # 120 columns show symbol, last, change, bid and ask; 160 add the sizes at the touch and
    # the volume; wider terminals the sparkline, turnover and the day's limit prices
    COLUMNS = (
        Col("symbol", "Symbol", 11),
        Col("name", "Name", 10, priority=3),
        Col("last", right("Last"), 9),
        Col("change", right("Chg%"), 7),
        Col("bid", right("Bid"), 9, priority=1),
        Col("ask", right("Ask"), 9, priority=1),
        Col("bidv", right("BidVol"), 7, priority=4),
        Col("askv", right("AskVol"), 7, priority=4),
        Col("volume", right("Volume"), 8, priority=2),
        Col("amount", right("Amount"), 8, priority=6),
        Col("limits", right("Limits ↓/↑"), 17, priority=7),
        Col("spark", "Intraday", SPARK_WIDTH, priority=5),
    )

    @dataclass
    class TicketRequested(Message):
        vt_symbol: str
        side: str

    class AddRequested(Message):
        """The user wants to add a symbol (the App asks which)."""

    @dataclass
    class RemoveRequested(Message):
        vt_symbol: str

    def __init__(
        self, instruments: dict[str, Instrument], symbols: list[str], **kw: object
    ) -> None:
        super().__init__(**kw)
        self.instruments = instruments
        self.symbols = list(symbols)
        self.ticks: dict[str, TickData] = {}
        self.stale: set[str] = set()  # dimmed: the quote is older than the feed's stale_s
        self.trails: dict[str, tuple[float, ...]] = {}
        self.sort_key = "symbol"
        self.sort_reverse = False
        self.border_title = "Watchlist"

    def on_mount(self) -> None:
        for vt_symbol in self.symbols:
            self._add_row(vt_symbol)
        self._update_title()

    # -- attributes down -----------------------------------------------------------
    def update_quotes(
        self, ticks: dict[str, TickData], trails: dict[str, tuple[float, ...]]
    ) -> None:
        """Apply a frame: the latest tick and today's minute closes of each changed symbol."""
        self.trails.update(trails)
        for vt_symbol, tick in ticks.items():
            self.ticks[vt_symbol] = tick
            if vt_symbol in self.rows:
                self._fill(vt_symbol)
        if self.sort_key != "symbol" and ticks:
            self._sort()

    def mark_stale(self, symbols: set[str]) -> None:
        """Dim the quotes of ``symbols`` (older than the feed's stale_s); undim the rest."""
        changed = symbols ^ self.stale
        self.stale = set(symbols)
        for vt_symbol in changed:
            if vt_symbol in self.rows and vt_symbol in self.ticks:
                self._fill(vt_symbol)

    def add_symbol(self, vt_symbol: str) -> bool:
        if vt_symbol in self.symbols:
            return False
        self.symbols.append(vt_symbol)
        self._add_row(vt_symbol)
        self._sort()
        self.move_cursor(row=self.get_row_index(vt_symbol))
        return True

    def remove_symbol(self, vt_symbol: str) -> bool:
        if vt_symbol not in self.symbols:
            return False
        self.symbols.remove(vt_symbol)
        self.drop(vt_symbol)
        return True

    @property
    def selected(self) -> str | None:
        return self.selected_key

    # -- messages up ---------------------------------------------------------------------
    def action_ticket(self, side: str) -> None:
        if self.selected:
            self.post_message(self.TicketRequested(self.selected, side))

    def action_buy(self) -> None:
        self.action_ticket("buy")

    def action_sell(self) -> None:
        self.action_ticket("sell")

    def action_add_symbol(self) -> None:
        self.post_message(self.AddRequested())

    def action_remove_symbol(self) -> None:
        if self.selected:
            self.post_message(self.RemoveRequested(self.selected))

    def action_sort_next(self) -> None:
        self.sort_key = SORTS[(SORTS.index(self.sort_key) + 1) % len(SORTS)]
        self._sort()

    def action_sort_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self._sort()

    # -- internals -------------------------------------------------------------------------
    def _add_row(self, vt_symbol: str) -> None:
        inst = self.instruments[vt_symbol]
        self.put(vt_symbol, {"symbol": vt_symbol, "name": inst.name})
        if vt_symbol in self.ticks:
            self._fill(vt_symbol)

    def _fill(self, vt_symbol: str) -> None:
        tick = self.ticks[vt_symbol]
        inst = self.instruments[vt_symbol]
        fmt = f"{{:.{inst.decimals}f}}"
        traded = tick.last_price > 0  # a real quote before the day's first trade has no last
        change = tick.last_price / tick.pre_close - 1 if tick.pre_close and traded else 0.0
        at_limit = traded and (
            tick.last_price >= tick.limit_up or tick.last_price <= tick.limit_down
        )
        dim = "dim" if vt_symbol in self.stale else ""
        last_style = "reverse" if at_limit else dim
        if (tick.extra or {}).get("suspended"):
            last_style = "dim strike"
        spark = sparkline(list(self.trails.get(vt_symbol, ())), SPARK_WIDTH)
        self.put(
            vt_symbol,
            {
                "last": right(fmt.format(tick.last_price) if traded else "—", last_style),
                "change": pct(change) if traded else right("—"),
                "bid": right(fmt.format(tick.bid_price_1) if tick.bid_price_1 else "—", dim),
                "ask": right(fmt.format(tick.ask_price_1) if tick.ask_price_1 else "—", dim),
                "bidv": right(volume(tick.bid_volume_1) if tick.bid_price_1 else "—", dim),
                "askv": right(volume(tick.ask_volume_1) if tick.ask_price_1 else "—", dim),
                "volume": right(volume(tick.volume)),
                "amount": right(volume(tick.turnover)),
                "limits": right(f"{fmt.format(tick.limit_down)}/{fmt.format(tick.limit_up)}"),
                "spark": Text(spark, style="cyan"),
            },
        )

    def _sort_value(self, vt_symbol: str) -> tuple[float, str]:
        tick = self.ticks.get(vt_symbol)
        if self.sort_key == "symbol" or tick is None:
            return (0.0, vt_symbol)
        if self.sort_key == "change":
            return (tick.last_price / tick.pre_close - 1 if tick.pre_close else 0.0, vt_symbol)
        if self.sort_key == "last":
            return (tick.last_price, vt_symbol)
        return (tick.volume, vt_symbol)

    def _sort(self) -> None:
        """Sort rows, keeping the cursor on the same symbol (so `b` never buys another one)."""
        selected = self.selected
        order = sorted(self.symbols, key=self._sort_value, reverse=self.sort_reverse)
        rank = {s: i for i, s in enumerate(order)}
        at = self.column_index("symbol")
        self.sort(key=lambda row: rank[str(row[at])])
        if selected is not None:
            self.move_cursor(row=self.get_row_index(selected), animate=False)
        self._update_title()

    def _update_title(self) -> None:
        arrow = "↓" if self.sort_reverse else "↑"
        self.set_status(f"{count(len(self.symbols), 'symbol')} · sort {self.sort_key} {arrow}")
