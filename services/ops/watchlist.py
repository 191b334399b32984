"""The user's watchlist, saved in the data directory when edited."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

from services.instruments import Instrument, Universe

log = logging.getLogger("quantdesk.watchlist")


class WatchlistStore:
    """``watchlist.json``: written atomically (temp file + rename), never half-written."""

    def __init__(
        self,
        path: Path,
        defaults: tuple[str, ...],
        universe: Universe,
        extend: Callable[[str], Instrument | None] | None = None,
    ) -> None:
        self.path = path
        self.defaults = defaults
        self.universe = universe
        self.extend = extend  # paper and replay: list a saved symbol beyond the universe

    def load(self) -> list[str]:
        """Saved symbols (unknown ones dropped with a warning), else the config defaults."""
        if not self.path.exists():
            return self._known(self.defaults)
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            symbols = data["symbols"]
            if not isinstance(symbols, list):
                raise TypeError("symbols is not a list")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning(
                "ignoring unreadable %s (%s); using the configured watchlist", self.path, exc
            )
            return self._known(self.defaults)
        return self._known(tuple(str(s) for s in symbols))

    def save(self, symbols: list[str]) -> None:
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"symbols": symbols}, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.path)

    def _known(self, symbols: tuple[str, ...]) -> list[str]:
        out = []
        for text in symbols:
            inst = self.universe.resolve(text)
            if inst is None and self.extend is not None:
                inst = self.extend(text)
            if inst is None:
                log.warning("watchlist: unknown symbol %r skipped", text)
            elif inst.vt_symbol not in out:
                out.append(inst.vt_symbol)
        return out
