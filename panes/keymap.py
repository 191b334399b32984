"""Every key binding, declared once as data, and the checks of a remapping -- without
Textual: the config reads this at every command, and Textual costs ~0.1 s to import.

The App and panes build their ``Binding``s from this table (panes/keys.py), the help
screen lists it, and ``[keys]`` in config.toml may remap any binding by its id. A
remapping that is not a key, that takes a key another binding in reach already has, or
that would leave the kill switch without a safe key is a config error, never a key
that silently does nothing.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Key:
    id: str
    key: str
    action: str
    description: str
    scope: str  # "global", "watchlist", "positions", "orders", "jobs", "backtest", "runs", "ticket"
    show: bool = True  # in the footer
    priority: bool = False  # fires even inside modals and inputs
    short: str = ""  # the footer's label, where the description is long (help shows it whole)

    @property
    def label(self) -> str:
        return self.short or self.description


KEYS: tuple[Key, ...] = (
    Key(
        "kill",
        "ctrl+k",
        "kill_switch",
        "KILL: halt + cancel all",
        "global",
        priority=True,
        short="KILL",
    ),
    Key("rearm", "ctrl+r", "rearm", "Re-arm trading", "global", short="Re-arm"),
    Key("flatten", "ctrl+f", "flatten", "Flatten (after a halt)", "global", short="Flatten"),
    Key("help", "question_mark,f1", "help", "Help", "global"),
    Key("quit", "q,ctrl+q", "request_quit", "Quit", "global"),
    Key("focus_watchlist", "1", "focus_pane('watchlist')", "Watchlist", "global", show=False),
    Key("focus_positions", "2", "focus_pane('positions')", "Positions", "global", show=False),
    Key("focus_orders", "3", "focus_pane('orders')", "Orders", "global", show=False),
    Key("focus_log", "4", "focus_pane('log')", "Log", "global", show=False),
    Key("focus_jobs", "5", "focus_pane('jobs')", "Jobs", "global", show=False),
    Key("backtests", "B", "backtests", "Backtests", "global"),
    Key("risk", "L", "risk", "Risk limits", "global", short="Risk"),
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
    Key("add_symbol", "a", "add_symbol", "Add symbol", "watchlist", short="Add"),
    Key("remove_symbol", "x,delete", "remove_symbol", "Remove symbol", "watchlist", short="Remove"),
    Key("sort_next", "o", "sort_next", "Sort by next column", "watchlist", short="Sort"),
    Key(
        "sort_reverse",
        "O",
        "sort_reverse",
        "Reverse sort",
        "watchlist",
        short="Reverse",
        show=False,
    ),
    Key("pos_buy", "b", "ticket('buy')", "Buy more", "positions"),
    Key("pos_sell", "s", "ticket('sell')", "Sell (prefilled sellable)", "positions", short="Sell"),
    Key("cancel_order", "c", "cancel_order", "Cancel order", "orders"),
    Key("cancel_all", "C", "cancel_all", "Cancel all working", "orders", short="Cancel all"),
    Key("run_job", "r", "run_job", "Run the job now", "jobs"),
    Key("focus_review", "6", "focus_pane('review')", "Review queue", "global", show=False),
    Key("focus_strategies", "7", "focus_pane('strategies')", "Strategies", "global", show=False),
    Key("approve", "a,enter", "approve", "Approve", "review"),
    Key("reject", "r", "reject", "Reject", "review"),
    Key("edit", "e", "edit", "Edit qty / price", "review"),
    Key(
        "approve_all",
        "A",
        "approve_all",
        "Approve all of this strategy",
        "review",
        short="Approve all",
    ),
    Key(
        "reject_all", "R", "reject_all", "Reject all of this strategy", "review", short="Reject all"
    ),
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


MODIFIERS = ("ctrl", "shift", "alt", "meta", "super", "hyper")
# Keys Textual itself binds on every screen: a remap onto one would never fire.
RESERVED = {"tab": "the next pane", "shift+tab": "the previous pane", "ctrl+p": "the palette"}
# Scopes whose bindings are in reach at the same time (besides "global", which is in
# reach everywhere): the limits table on the risk screen, the saved runs on the
# backtests screen.
TOGETHER = {"limits": "risk", "risk": "limits", "runs": "backtest", "backtest": "runs"}
# The kill switch is caught before the App sees a key (console/killtap.py): a key that
# is typed into a field (a letter, a digit) would HALT mid-word. It needs a modifier,
# or is a function key.
KILL_MODIFIERS = ("ctrl", "alt", "meta")


def effective(remap: Mapping[str, str]) -> dict[str, str]:
    """Each binding id's key list, with ``remap`` applied over the defaults."""
    return {k.id: remap.get(k.id, k.key) for k in KEYS}


def key_of(remap: Mapping[str, str], key_id: str) -> str:
    """The first key of binding ``key_id`` as a person types it ("ctrl+r", "?")."""
    first = _split(effective(remap)[key_id])[0]
    return {"question_mark": "?"}.get(first, first)


def check_keymap(remap: Mapping[str, str]) -> list[str]:
    """Every problem with ``remap`` ([keys] id -> "key,key"), each saying what to do."""
    problems = []
    for key_id, value in remap.items():
        for key in _split(value):
            why = key_problem(key)
            if why:
                problems.append(f'[keys] {key_id} = "{value}": {why}')
    if problems:
        return problems
    keys = effective(remap)
    kill = [normal_key(k) for k in _split(keys["kill"])]
    if not kill:
        problems.append('[keys] kill: the kill switch needs a key, e.g. "ctrl+k"')
    for key in kill:
        function_key = key.split("+")[-1][:1] == "f" and key.split("+")[-1][1:].isdigit()
        if not function_key and not any(key.startswith(f"{m}+") for m in KILL_MODIFIERS):
            problems.append(
                f'[keys] kill = "{keys["kill"]}": {key} is typed into fields (a ticket, a '
                "prompt) and would HALT mid-word: use ctrl+, alt+ or meta+ a key, or a "
                'function key, e.g. "ctrl+x" or "f12"'
            )
    scope = {k.id: k.scope for k in KEYS}
    holder: dict[tuple[str, str], str] = {}
    for key_id, value in keys.items():
        for key in (normal_key(k) for k in _split(value)):
            if key in RESERVED:
                problems.append(f"[keys] {key_id}: {key} is Textual's own key ({RESERVED[key]})")
            for other_scope in _in_reach(scope[key_id]):
                other = holder.get((other_scope, key))
                if other is not None and other != key_id:
                    mine = key_id if key_id in remap else other
                    named = other if mine == key_id else key_id
                    problems.append(
                        f"[keys] {mine}: {key} is also {named}'s key ({scope[named]}), so one "
                        "of them would never fire: pick another key, or remap the other too"
                    )
            holder[(scope[key_id], key)] = key_id
    return problems


def key_problem(key: str) -> str:
    """Why ``key`` ("ctrl+x", "f5", "question_mark", "?") is not a key, or ""."""
    from textual.keys import Keys, _character_to_key

    *mods, base = key.strip().split("+") if key.strip() != "+" else ["+"]
    for mod in mods:
        if mod.lower() not in MODIFIERS:
            near = difflib.get_close_matches(mod.lower(), MODIFIERS, n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            return f"{mod!r} is not a modifier{hint}: use {', '.join(MODIFIERS)}"
    names = {k.value for k in Keys if "+" not in k.value and not k.value.startswith("<")}
    names |= {_character_to_key(chr(c)) for c in range(33, 127)}
    if len(base) == 1 and base.isprintable() and base != " ":
        return ""
    if base.lower() in names:
        return ""
    near = difflib.get_close_matches(base.lower(), sorted(names), n=1)
    hint = f" (did you mean {near[0]}?)" if near else ""
    return f"{base!r} is not a key{hint}: a character, or a name such as f5, escape, delete"


def _split(value: str) -> list[str]:
    return [k.strip() for k in value.split(",") if k.strip()]


def normal_key(key: str) -> str:
    """One spelling per key: modifiers lower-case and sorted, a character by its name."""
    from textual.keys import _character_to_key

    *mods, base = key.split("+") if key != "+" else ["+"]
    base = _character_to_key(base) if len(base) == 1 else base.lower()
    return "+".join([*sorted(m.lower() for m in mods), base])


def _in_reach(scope: str) -> tuple[str, ...]:
    """The scopes whose bindings fire where ``scope``'s do."""
    if scope == "global":
        return tuple({k.scope for k in KEYS})
    return ("global", scope, *((TOGETHER[scope],) if scope in TOGETHER else ()))
