"""The App's trading dialogs: re-arm, flatten after a HALT, and a reconciliation's
differences -- each asks, then acts on the services and says what happened."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from console.dialogs import ConfirmScreen, TableScreen, rearm_prompt
from panes.format import count
from services.events import Reconciled, TradingState
from services.trading.control import RearmRefused
from services.trading.flatten import outcome

if TYPE_CHECKING:
    from console.app_base import DeskApp


def show_reconciled(app: DeskApp, result: Reconciled) -> None:
    """A reconciliation's outcome: a toast, or its differences to acknowledge."""
    whose = f"Account {result.account}: " if app.accounts.several else ""
    if result.error:
        app.notify(
            _cap(f"{whose}reconciliation failed: {result.error}"), severity="error", timeout=20
        )
        return
    if not result.differences:
        what = f"{len(result.lines)} adopted or shown" if result.lines else "no differences"
        app.notify(_cap(f"{whose}reconciled with the broker ({result.why}): {what}."))
        return
    rows = [{"": "DIFFERENCE", "what": line} for line in result.differences]
    rows += [
        {"": "adopted", "what": line} for line in result.lines if line not in result.differences
    ]
    app.push_screen(
        TableScreen(
            f"Account {result.account} HALTED: {len(result.differences)} difference(s) with "
            f"the broker. Check each, then esc to acknowledge; {app.key('rearm')} re-arms.",
            rows,
            "",
        ),
        lambda _: app.services.acknowledge_reconciliation(result),
    )


def rearm(app: DeskApp) -> None:
    """Leave HALTED once the trader typed the word."""
    if app.services.control.state is TradingState.ACTIVE:
        app.notify("Trading is already ACTIVE")
        return

    def done(word: str | None) -> None:
        if word is None:
            app.notify("Still HALTED", severity="warning")
            return
        try:
            app.services.control.rearm(word)
        except RearmRefused as exc:  # the prompt validates first; defensive
            app.notify(str(exc), severity="error")
            return
        app.sync_trading()
        note = app.services.live.stopped_note()
        app.notify(f"Trading re-armed: ACTIVE. {note}".strip(), timeout=10)

    app.push_screen(rearm_prompt(), done)


def flatten(app: DeskApp) -> None:
    """One closing order per position, previewed, sent on confirmation (REDUCING)."""
    if app.services.control.state is not TradingState.HALTED:
        app.notify(f"Flatten follows a halt: press {app.key('kill')} first", severity="warning")
        return
    plan = app.services.flatten_preview()
    if not plan.intents:
        app.notify("Nothing to flatten: " + "; ".join(plan.notes or ["no position"]))
        return
    text = Text("\n").join(  # plain pieces: symbols and names as stored
        [
            Text("Flatten: one closing order per position", style="bold"),
            *(Text(line) for line in plan.lines()),
            *(Text(note, style="dim") for note in plan.notes),
            Text("Trading goes to REDUCING: only orders that reduce a position pass."),
        ]
    )

    def done(yes: bool | None) -> None:
        if not yes:
            app.notify("Flatten cancelled: still HALTED")
            return
        results = app.services.flatten(plan)
        sent, refused = outcome(results)
        app.sync_trading()
        app.notify(
            f"Flatten: {sent} of {count(len(results), 'closing order')} sent; trading REDUCING"
            + ("; refused: " + " ".join(refused) if refused else ""),
            severity="warning" if refused else "information",
            timeout=12,
        )

    app.push_screen(ConfirmScreen(text, yes="Send", no="Cancel"), done)


def _cap(text: str) -> str:
    """A toast starts with a capital, whether or not an account's name leads it."""
    return text[:1].upper() + text[1:]
