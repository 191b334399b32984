"""A remapped kill switch: its key leads the footer at every width, it halts, and the old
key no longer does; the screen names the keys as remapped."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets._footer import FooterKey

from panes.header import StatusHeader
from services.events import TradingState
from tests.ui.conftest import NO_JOBS, build_app, settle


@pytest.mark.parametrize("size", [(120, 40), (160, 48)])
async def test_a_remapped_kill_key_leads_the_footer_and_halts(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    app = build_app(tmp_path, replace(NO_JOBS, keys={"kill": "ctrl+x", "rearm": "ctrl+a"}))
    async with app.run_test(size=size) as pilot:
        await settle(pilot, 5)
        for pane in ("1", "2", "3", "5", "7"):  # whichever pane has the focus
            await pilot.press(pane)
            await pilot.pause()
            footer = list(app.screen.query(FooterKey))
            assert (footer[0].key, footer[0].description) == ("ctrl+x", "KILL"), pane
            assert footer[0].region.x + footer[0].region.width <= size[0]  # on screen
        await pilot.press("ctrl+k")  # the default key is nobody's now
        await pilot.pause()
        assert app.services.control.state is TradingState.ACTIVE
        await pilot.press("ctrl+x")
        await settle(pilot)
        assert app.services.control.state is TradingState.HALTED
        assert "kill switch (ctrl+x)" in app.services.control.reason
        assert "ctrl+a to re-arm" in app.query_one(StatusHeader).render().plain
