"""Nothing is cut at the sizes the README promises (120x40, 160x48): every table's
shown columns fit its pane (no value runs past the edge), the heatmap shows whole
cells, the log wraps at its pane's width, the review queue shows each proposal's
reason, and a subtitle that hides columns names them or counts them."""

from __future__ import annotations

from datetime import datetime

import pytest
from rich.cells import cell_len
from rich.text import Text
from textual.screen import Screen
from textual.widgets import DataTable, Input, RichLog

from console.app import QuantdeskApp
from console.backtests import BacktestScreen
from panes.backtests import HeatmapTable, MetricsTable, TradesTable
from panes.log import LogPane
from panes.review import ReviewTable, risk_cell
from panes.table import subtitle
from services.events import LogRecorded, Violation
from tests.ui.conftest import build_app, settle
from tests.ui.test_backtests import open_screen, until
from tests.ui.test_review import propose

SIZES = [(120, 40), (160, 48)]
LONG = (
    "daily sync: 20 symbols, 52,880 rows written, 0 quarantined, 0 failed in 1.3 s; "
    "snapshot sync-demo-20261204T164159384238 kept; the next run is at 15:30 CST"
)


def cut_off(screen: Screen[object]) -> list[str]:
    """Each table or log on ``screen`` whose content is wider than its pane."""
    out = []
    for widget in screen.query(DataTable):
        if not widget.display or isinstance(widget, HeatmapTable):
            continue
        room = widget.scrollable_content_region.width
        if widget.virtual_size.width > room:
            out.append(
                f"{widget.id or type(widget).__name__}: {widget.virtual_size.width} > {room}"
            )
    for log in screen.query(RichLog):
        room = log.scrollable_content_region.width
        if log.virtual_size.width > room:
            out.append(f"log: {log.virtual_size.width} > {room}")
    return out


def subtitles(screen: Screen[object]) -> list[tuple[str, int]]:
    return [
        (str(w.border_subtitle), w.size.width)
        for w in screen.query("*")
        if w.display and isinstance(w.border_subtitle, str | Text) and str(w.border_subtitle)
    ]


@pytest.mark.parametrize("size", SIZES)
async def test_the_main_screen_cuts_nothing(tmp_path: object, size: tuple[int, int]) -> None:
    app = build_app(tmp_path)  # type: ignore[arg-type]
    async with app.run_test(size=size) as pilot:
        await settle(pilot, 20)
        propose(app, 1)
        for i in range(3):
            app.main.query_one(LogPane).add(
                LogRecorded(datetime(2026, 12, 4, 8, i), "INFO", "data", LONG)
            )
        await settle(pilot)
        assert cut_off(app.screen) == []
        review = app.query_one(ReviewTable)
        assert "why" in [c.key for c in review.shown_columns]
        assert str(review.get_cell("p1", "why")).startswith("s1: MA(5)")
        log = app.query_one(LogPane)
        assert any("52,880" in line.text for line in log.lines)  # wrapped, not cut
        for text, width in subtitles(app.screen):
            assert not text.endswith("hidden: …"), text
            if "hidden" in text:
                assert cell_len(text) <= width - 6, (text, width)
        # the other size: the kept log lines wrap again at the new width
        await pilot.resize_terminal(*SIZES[size == SIZES[0]])
        await settle(pilot)
        assert cut_off(app.screen) == []


@pytest.mark.parametrize("size", SIZES)
async def test_a_sweep_with_out_of_sample_shows_every_number_whole(
    tmp_path: object, size: tuple[int, int]
) -> None:
    app: QuantdeskApp = build_app(tmp_path)  # type: ignore[arg-type]
    async with app.run_test(size=size) as pilot:
        screen = await open_screen(pilot)
        screen.query_one("#bt-grid", Input).value = "fast=5,10,15 slow=20,30,40,50,60,70"
        screen.query_one("#bt-oos", Input).value = "0.3"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: screen.doc is not None)
        await pilot.pause()
        doc = screen.doc
        assert doc is not None and "oos" in doc and doc.get("heatmap")
        assert cut_off(screen) == []
        metrics = screen.query_one(MetricsTable)
        oos = doc["oos"]["metrics"]["total_return"]
        assert f"{oos:.2%}" in str(metrics.get_cell("total_return", "oos"))
        assert str(metrics.border_subtitle).endswith(f"OOS {doc['oos']['start']}")
        trades = screen.query_one(TradesTable)
        assert {"entry_time", "exit_time", "pnl"} <= {c.key for c in trades.shown_columns}
        heatmap = screen.query_one(HeatmapTable)
        label, shown = heatmap.fitting()
        pad = 2 * heatmap.cell_padding
        room = heatmap.scrollable_content_region.width
        assert label + pad + shown * (heatmap.CELL + pad) == room  # whole cells, no part of one
        assert isinstance(screen, BacktestScreen)


def test_a_subtitle_names_what_fits_and_counts_the_rest() -> None:
    names = ["Name", "BidVol", "AskVol", "Volume"]
    assert subtitle("20 symbols", names, 80) == "20 symbols · hidden: Name, BidVol, AskVol, Volume"
    assert subtitle("20 symbols", names, 40) == "20 symbols · hidden: Name, BidVol +2"
    assert subtitle("20 symbols", names, 24) == "20 symbols · 4 hidden"
    assert subtitle("a long status that fills it", names, 24) == "a long status that fills it"


def test_a_verdict_keeps_its_numbers_whole_in_two_short_lines() -> None:
    v = Violation("risk", "order_notional", "too big", "146,984 CNY", "100,000 CNY")
    lines = risk_cell("", [v], 14).plain.split("\n")
    assert lines[0] == "✗ order_notio…" and all(cell_len(line) <= 14 for line in lines)
    value, limit = lines[1].split(">")
    assert value.strip() in ("146,984", "147.0k", "147k") and limit.strip() in (
        "100,000",
        "100.0k",
        "100k",
    )
    wide = risk_cell("", [v], 40).plain.split("\n")
    assert wide == ["✗ order_notional", "146,984 CNY (limit 100,000 CNY)"]
