"""What the screen shows of several live accounts, and which one it shows.

The positions, orders, header, ticket, re-arm, flatten, reconcile and risk screen
are the selected account's (``Services.selected``); the accounts bar lists every
account. This keeps, per account, what arrives between switches -- its broker
link, its latest orders -- so that switching shows it at once.
"""

from __future__ import annotations

from vnpy.trader.object import OrderData

from panes.accounts import AccountLine
from services.accounting.book import AccountView
from services.events import ConnectionChanged
from services.runtime import Services


class AccountsView:
    """Per-account state the screen needs; dumb about widgets (the App applies it)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.links: dict[str, tuple[str, bool]] = {}  # account -> the header's link words
        self.orders: dict[str, dict[str, OrderData]] = {d.id: {} for d in services.desks}
        self.views: dict[str, AccountView] = {}

    @property
    def several(self) -> bool:
        return len(self.services.desks) > 1

    def connection(self, change: ConnectionChanged, line: tuple[str, bool]) -> tuple[str, bool]:
        """Record an account's link; the selected account's link, for the header."""
        self.links[change.gateway] = line
        return self.links.get(self.services.account_id, ("", False))

    def sort_orders(self, batch: list[OrderData]) -> list[OrderData]:
        """Keep every account's latest orders; the ones the orders pane shows now."""
        if not self.several:
            return batch
        for order in batch:
            self.orders.setdefault(order.gateway_name, {})[order.vt_orderid] = order
        selected = self.services.account_id
        return [o for o in batch if o.gateway_name == selected]

    def select_next(self) -> str:
        """Select the next account; its id."""
        desks = self.services.desks
        return self.services.select(desks[(self.services.selected + 1) % len(desks)].id).id

    def shown_orders(self) -> list[OrderData]:
        """The selected account's orders, oldest first (the pane after a switch)."""
        return list(self.orders.get(self.services.account_id, {}).values())

    def lines(self) -> tuple[AccountLine, ...]:
        """The accounts bar: every account's state, link and equity."""
        if not self.several:
            return ()
        out = []
        for desk in self.services.desks:
            view = self.views.get(desk.id)
            link, warn = self.links.get(desk.id, ("", False))
            out.append(
                AccountLine(
                    desk.id,
                    desk.control.state,
                    link,
                    warn,
                    view.equity if view else None,
                    view.day_pnl if view else 0.0,
                    desk is self.services.desk,
                )
            )
        return tuple(out)
