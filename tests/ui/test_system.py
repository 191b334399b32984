"""The system monitor screen (M) and the header's system summary."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from console.app import QuantdeskApp
from console.bridge import HealthRead
from console.system_screen import SystemScreen
from panes.header import StatusHeader
from tests.ui.conftest import build_app, settle


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
        # A real reading, without the warnings a busy test machine gives it (a CPU over its
        # limit replaces the summary with the warning, as the next step checks).
        reading = replace(health.read(), warnings=())
        app.post_message(HealthRead(reading))
        await pilot.pause()
        header = app.main.query_one(StatusHeader)
        assert reading.line() in header.render().plain  # the summary, room permitting
        warned = replace(reading, warnings=("disk 0.5 GB free (limit 2 GB)",))
        app.post_message(HealthRead(warned))
        await pilot.pause()
        assert "⚠ disk 0.5 GB free (limit 2 GB)" in header.render().plain


async def test_the_monitor_shows_each_alert_channel_and_a_failing_one_is_told(
    tmp_path: Path,
) -> None:
    from services.alerts.config import AlertsConfig
    from services.alerts.wiring import Alerting
    from tests.alert_servers import HTTPStandIn, Script
    from tests.unit.alerts.conftest import json_channel

    down = HTTPStandIn()
    down.script = Script(status=500, body=b"{}")
    channel = json_channel(down)
    alerting = Alerting(AlertsConfig(channels=(channel.config,), retry_s=60), (channel,))
    app = build_app(tmp_path, alerting=alerting)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await pilot.press("M")
            await pilot.pause()
            shot = app.export_screenshot().replace("&#160;", " ")
            assert "Alerts to phone (JSON)" in shot and "ok · 0 sent" in shot
            await pilot.press("escape")
            app.services.kill_switch("ui test")
            await asyncio.to_thread(down.wait, 1)
            for _ in range(100):
                await pilot.pause(0.05)
                if any("FAILING" in n.message for n in app._notifications):
                    break
            toast = [n.message for n in app._notifications if "FAILING" in n.message]
            assert toast and toast[0].startswith("Alert channel phone FAILING: ")
            assert app.services.alerts is not None
            await asyncio.to_thread(app.services.alerts.sync)  # its report of now
            await pilot.press("M")
            await pilot.pause()
            shot = app.export_screenshot().replace("&#160;", " ")
            assert "FAILING since" in shot and "1 pending" in shot
    finally:
        down.close()


async def test_without_channels_the_monitor_says_so(app: QuantdeskApp) -> None:
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("M")
        await pilot.pause()
        shot = app.export_screenshot().replace("&#160;", " ")
        assert "no channel configured ([alerts.channels])" in shot


async def test_a_long_warning_is_shortened_not_the_equity_dropped(app: QuantdeskApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, 5)
        health = app.services.health
        assert health is not None
        warned = replace(
            health.read(),
            warnings=tuple(f"alerts/channel{n} failing" for n in range(8)),
        )
        app.post_message(HealthRead(warned))
        await pilot.pause()
        line = app.main.query_one(StatusHeader).render().plain
        assert "⚠ alerts/channel0 failing" in line and "… " in line  # shortened to fit
        assert "Equity" in line and "bus " in line  # what a trader needs is still there
        assert len(line) <= 120
