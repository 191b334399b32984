"""The system monitor screen (M) and the header's system summary."""

from __future__ import annotations

from dataclasses import replace

from console.app import QuantdeskApp
from console.bridge import HealthRead
from console.system_screen import SystemScreen
from panes.header import StatusHeader
from tests.ui.conftest import settle


async def test_m_shows_the_system_and_the_header_keeps_a_warning(app: QuantdeskApp) -> None:
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("M")
        await pilot.pause()
        assert isinstance(app.screen, SystemScreen)
        shot = app.export_screenshot().replace("&#160;", " ")
        assert "System monitor" in shot and "CPU (machine)" in shot and "Journals" in shot
        assert "Limit ([monitor])" in shot  # a bracket is text here, not markup
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, SystemScreen)
        health = app.services.health
        assert health is not None
        reading = health.read()
        app.post_message(HealthRead(reading))
        await pilot.pause()
        header = app.main.query_one(StatusHeader)
        assert reading.line() in header.render().plain  # the summary, room permitting
        warned = replace(reading, warnings=("disk 0.5 GB free (limit 2 GB)",))
        app.post_message(HealthRead(warned))
        await pilot.pause()
        assert "⚠ disk 0.5 GB free (limit 2 GB)" in header.render().plain
