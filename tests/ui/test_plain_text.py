"""Text from outside -- a broker's or a job's message, a halt reason, what a trader types --
is shown as it was sent, in every widget, notification and log line: ``[/]`` in a
broker's refusal crashed the live console (MarkupError) before."""

from __future__ import annotations

import asyncio
from datetime import datetime

from textual.widgets import Input, Static
from textual.widgets._toast import Toast

from console.app import QuantdeskApp
from console.ticket import TicketScreen
from panes.header import StatusHeader
from services.events import EVENT_CONNECTION, EVENT_JOB, ConnectionChanged, JobUpdated
from tests.ui.conftest import settle

SIZE = (160, 48)
NASTY = "[/] [bold red]x[/bold red] [link=file:///etc]y[/link] \\[z]"


def toasts(app: QuantdeskApp) -> list[str]:
    return [str(t.render()) for t in app.screen.query(Toast)]


async def test_outside_text_shows_as_sent_in_every_widget(app: QuantdeskApp) -> None:
    async with app.run_test(size=SIZE, notifications=True) as pilot:  # toasts drawn
        await settle(pilot, 5)
        bus = app.services.bus
        now = datetime.now()
        bus.publish(EVENT_CONNECTION, ConnectionChanged("main", "DOWN", now, f"login: {NASTY}"))
        bus.publish(EVENT_JOB, JobUpdated("daily_sync", "failed", f"source: {NASTY}", now))
        await settle(pilot)
        shown = "\n".join(toasts(app))
        assert f"login: {NASTY}" in shown and f"source: {NASTY}" in shown
        app.services.kill_switch(f"halt {NASTY}")
        app.sync_trading()
        await settle(pilot)
        assert "HALTED — halt [/] [bold" in app.query_one(StatusHeader).render().plain
        await pilot.press("L")
        await pilot.pause()
        state = app.screen.query_one("#risk-state", Static)
        assert NASTY in str(state.render())
        await pilot.press("escape")
        await pilot.press("ctrl+r")  # the re-arm prompt, answered with markup
        await pilot.pause()
        prompt = app.screen.query_one(Input)
        prompt.value = "[/]"
        await pilot.press("enter")
        await pilot.pause()
        assert "got '[/]'" in str(app.screen.query_one("#prompt-error", Static).render())
        await pilot.press("escape")
        await asyncio.sleep(0)
        assert app.is_running


async def test_a_ticket_quotes_a_typed_symbol_as_typed(app: QuantdeskApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, 5)
        await pilot.press("b")
        ticket = app.screen
        assert isinstance(ticket, TicketScreen)
        ticket.query_one("#symbol", Input).value = "[/]X.US"
        await pilot.press("enter")
        await pilot.pause()
        text = str(ticket.query_one("#err-symbol", Static).render())
        assert "[/]X.US" in text
        assert app.is_running
