"""The Textual bindings of each scope, from the key table (panes/keymap.py)."""

from __future__ import annotations

from textual.binding import Binding, BindingType

from panes.keymap import KEY_IDS, KEYS, Key, keys_for

__all__ = ["KEYS", "KEY_IDS", "Key", "bindings", "keys_for"]


def bindings(scope: str) -> list[BindingType]:
    """The Textual bindings of one scope, with ids so that ``[keys]`` can remap them."""
    return [
        Binding(k.key, k.action, k.label, show=k.show, priority=k.priority, id=k.id)
        for k in keys_for(scope)
    ]
