"""Every key binding, declared once as data.

The App and panes build their ``Binding``s from this table, the help screen
lists it, and ``[keys]`` in config.toml may remap any binding by its id.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType


@dataclass(frozen=True)
class Key:
    id: str
    key: str
    action: str
    description: str
    scope: str  # "global", "watchlist", "positions", "orders", "jobs", "backtest", "runs", "ticket"
    show: bool = True  # in the footer
    priority: bool = False  # fires even inside modals and inputs


KEYS: tuple[Key, ...] = (
    Key("kill", "ctrl+k", "kill_switch", "KILL: halt + cancel all", "global", priority=True),
    Key("rearm", "ctrl+r", "rearm", "Re-arm trading", "global"),
    Key("flatten", "ctrl+f", "flatten", "Flatten (after a halt)", "global"),
    Key("help", "question_mark,f1", "help", "Help", "global"),
    Key("quit", "q,ctrl+q", "request_quit", "Quit", "global"),
    Key("focus_watchlist", "1", "focus_pane('watchlist')", "Watchlist", "global", show=False),
    Key("focus_positions", "2", "focus_pane('positions')", "Positions", "global", show=False),
    Key("focus_orders", "3", "focus_pane('orders')", "Orders", "global", show=False),
    Key("focus_log", "4", "focus_pane('log')", "Log", "global", show=False),
    Key("focus_jobs", "5", "focus_pane('jobs')", "Jobs", "global", show=False),
    Key("backtests", "B", "backtests", "Backtests", "global"),
    Key("risk", "L", "risk", "Risk limits", "global"),
    Key("system", "M", "system", "System monitor", "global", show=False),
    Key("reconcile", "Y", "reconcile", "Reconcile with the broker (live)", "global", show=False),
    Key(
        "next_account",
        "ctrl+n",
        "next_account",
        "Next account (live, several)",
        "global",
        show=False,
    ),
    Key("edit_limit", "e,enter", "edit_limit", "Change the limit", "limits"),
    Key("risk_close", "escape", "close", "Back", "risk"),
    Key("system_close", "escape", "close", "Back", "system"),
    Key("buy", "b", "ticket('buy')", "Buy", "watchlist"),
    Key("sell", "s", "ticket('sell')", "Sell", "watchlist"),
    Key("add_symbol", "a", "add_symbol", "Add symbol", "watchlist"),
    Key("remove_symbol", "x,delete", "remove_symbol", "Remove symbol", "watchlist"),
    Key("sort_next", "o", "sort_next", "Sort by next column", "watchlist"),
    Key("sort_reverse", "O", "sort_reverse", "Reverse sort", "watchlist"),
    Key("pos_buy", "b", "ticket('buy')", "Buy more", "positions"),
    Key("pos_sell", "s", "ticket('sell')", "Sell (prefilled sellable)", "positions"),
    Key("cancel_order", "c", "cancel_order", "Cancel order", "orders"),
    Key("cancel_all", "C", "cancel_all", "Cancel all working", "orders"),
    Key("run_job", "r", "run_job", "Run the job now", "jobs"),
    Key("focus_review", "6", "focus_pane('review')", "Review queue", "global", show=False),
    Key("focus_strategies", "7", "focus_pane('strategies')", "Strategies", "global", show=False),
    Key("approve", "a,enter", "approve", "Approve", "review"),
    Key("reject", "r", "reject", "Reject", "review"),
    Key("edit", "e", "edit", "Edit qty / price", "review"),
    Key("approve_all", "A", "approve_all", "Approve all of this strategy", "review"),
    Key("reject_all", "R", "reject_all", "Reject all of this strategy", "review"),
    Key("toggle_strategy", "s", "toggle_strategy", "Start / stop", "strategies"),
    Key("compare_strategy", "c", "compare_strategy", "Live vs backtest", "strategies"),
    # priority: screen-level keys work from any form field (an Input binds ctrl+e itself)
    Key("backtest_run", "ctrl+s", "run_backtest", "Run backtest", "backtest", priority=True),
    Key("backtest_back", "escape", "cancel_or_close", "Cancel run / back", "backtest"),
    Key(
        "backtest_export",
        "ctrl+e",
        "export_report",
        "Export HTML report",
        "backtest",
        priority=True,
    ),
    Key("backtest_runs", "ctrl+l", "focus_runs", "Saved runs", "backtest", priority=True),
    Key("mark_run", "space", "mark_run", "Mark run for compare", "runs"),
    Key("compare_runs", "c", "compare_runs", "Compare two marked runs", "runs"),
    Key("open_run", "enter", "open_run", "Open run", "runs"),
    Key("ticket_submit", "ctrl+s", "submit", "Review / confirm", "ticket"),
    Key("ticket_side", "ctrl+t", "toggle_side", "Toggle buy/sell", "ticket"),
    Key("ticket_kind", "ctrl+o", "toggle_kind", "Toggle limit/market", "ticket"),
    Key("ticket_close", "escape", "close", "Back / close", "ticket"),
)

KEY_IDS = frozenset(k.id for k in KEYS)


def keys_for(scope: str) -> tuple[Key, ...]:
    return tuple(k for k in KEYS if k.scope == scope)


def bindings(scope: str) -> list[BindingType]:
    """The Textual bindings of one scope, with ids so that ``[keys]`` can remap them."""
    return [
        Binding(k.key, k.action, k.description, show=k.show, priority=k.priority, id=k.id)
        for k in keys_for(scope)
    ]
