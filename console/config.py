"""The console's configuration: the services' sections (services/config.py, read the
same way everywhere) plus the console's own -- [ui] and the [keys] remapping, checked
here (panes/keymap.py) because only the console binds keys.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from panes.keymap import KEY_IDS, check_keymap
from services.config import (
    DEMO_STRATEGIES,
    SECTIONS,
    UI_SECTIONS,
    AppSection,
    ConfigError,
    Settings,
    StoreSection,
    WatchlistSection,
    instruments_for,
    parse_settings,
    read_file,
    resolve_config_path,
)
from services.config_tables import build, reject_unknown
from services.settings import require

__all__ = [
    "DEMO_STRATEGIES",
    "SECTIONS",
    "AppSection",
    "Config",
    "ConfigError",
    "StoreSection",
    "UISection",
    "WatchlistSection",
    "instruments_for",
    "load_config",
    "parse_config",
    "resolve_config_path",
]


@dataclass(frozen=True)
class UISection:
    """[ui]"""

    refresh_hz: float = 10.0
    """How often coalesced quotes reach the screen (4–20 per second)."""
    theme: str = "textual-dark"
    """Any Textual theme name."""
    colors: str = "cn"
    """cn: gains red, losses green (A-share convention); intl: gains green, losses red."""

    def __post_init__(self) -> None:
        require(self.colors in ("cn", "intl"), "colors", f"must be cn or intl, got {self.colors!r}")
        require(4 <= self.refresh_hz <= 20, "refresh_hz", f"must be 4–20, got {self.refresh_hz}")
        if self.theme != "textual-dark":  # Textual is imported only to check another one
            from textual.theme import BUILTIN_THEMES

            near = difflib.get_close_matches(self.theme, list(BUILTIN_THEMES), n=1)
            require(
                self.theme in BUILTIN_THEMES,
                "theme",
                f"no Textual theme {self.theme!r}"
                + (f" (did you mean {near[0]!r}?)" if near else "")
                + f": one of {', '.join(sorted(BUILTIN_THEMES))}",
            )


@dataclass(frozen=True)
class Config(Settings):
    """The whole configuration: the services' settings and the console's own."""

    ui: UISection = field(default_factory=UISection)
    keys: dict[str, str] = field(default_factory=dict)
    """Key remapping by binding id, e.g. kill = "ctrl+x" (ids are listed in the help screen)."""


def load_config(path: Path | None) -> Config:
    """Read ``path`` (or the defaults when None) into a :class:`Config`."""
    if path is None:
        return Config()
    return parse_config(read_file(path), str(path))


def parse_config(raw: dict[str, Any], source: str) -> Config:
    settings = parse_settings(raw, source, UI_SECTIONS)
    section = raw.get("ui", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: [ui] must be a table, got {type(section).__name__}")
    ui = build(UISection, section, source, "ui")
    keys = raw.get("keys", {})
    if not isinstance(keys, dict):
        raise ConfigError(f'{source}: [keys] must be a table of id = "key"')
    reject_unknown(keys, set(KEY_IDS), source, "keys")
    for key_id, value in keys.items():
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f'{source}: [keys] {key_id}: expected a key name like "ctrl+x"')
    problems = check_keymap(keys) if keys else []
    if problems:
        raise ConfigError(f"{source}: " + "; ".join(problems))
    shared = {f.name: getattr(settings, f.name) for f in fields(Settings)}
    return Config(**shared, ui=ui, keys=dict(keys))
