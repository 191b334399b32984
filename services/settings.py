"""Shared pieces of the typed, frozen config models that services define.

Each service owns its config dataclass (``SimConfig`` in simulator.py, ...);
``services/config.py`` composes them and loads config.toml (console/config.py adds the
console's own sections). A model validates
its ranges in ``__post_init__`` with :func:`require`, so a bad value is
reported with the key that holds it.
"""

from __future__ import annotations


class ConfigValueError(ValueError):
    """A config value is out of range; ``key`` names the field."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.detail = message


def require(ok: bool, key: str, message: str) -> None:
    """Raise ConfigValueError for ``key`` unless ``ok``."""
    if not ok:
        raise ConfigValueError(key, message)
