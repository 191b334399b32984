"""A ticket opened before its symbol's first quote (the first seconds after a start)
takes its price from that quote when it comes, unless the trader typed one; before it,
the empty price says why and what to do."""

from __future__ import annotations

from textual.widgets import Input, Static

from console.app import QuantdeskApp
from console.ticket import TicketScreen
from tests.ui.conftest import settle

SIZE = (160, 48)


async def open_before_the_quote(app: QuantdeskApp, pilot: object, symbol: str) -> TicketScreen:
    app.services.market._ticks.pop(symbol)  # as in the first seconds: no quote yet
    app.main.open_ticket(symbol, "buy")
    await pilot.pause()  # type: ignore[attr-defined]
    ticket = app.screen
    assert isinstance(ticket, TicketScreen)
    assert ticket.query_one("#price", Input).value == ""
    return ticket


async def test_the_first_quote_fills_an_empty_price(app: QuantdeskApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 5)
        ticket = await open_before_the_quote(app, pilot, "600519.SSE")
        await pilot.press("enter")  # review with no price: why, and what to do
        error = str(ticket.query_one("#err-price", Static).render())
        assert error == "No quote for 600519.SSE yet: type a limit price (or wait for the quote)."
        for _ in range(20):  # the quotes come (a step moves some of the symbols)
            await settle(pilot, 10)
            if (tick := app.services.market.get("600519.SSE")) is not None:
                break
        assert tick is not None
        assert ticket.query_one("#price", Input).value == f"{tick.ask_price_1:g}"
        await pilot.press("enter")
        assert ticket.pending is not None and ticket.pending.price == tick.ask_price_1


async def test_a_typed_price_is_never_replaced(app: QuantdeskApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 5)
        ticket = await open_before_the_quote(app, pilot, "600519.SSE")
        ticket.query_one("#price", Input).focus()
        await pilot.press("1", "4", "0", "0")
        for _ in range(20):
            await settle(pilot, 10)
            if app.services.market.get("600519.SSE") is not None:
                break
        assert app.services.market.get("600519.SSE") is not None
        assert ticket.query_one("#price", Input).value == "1400"
