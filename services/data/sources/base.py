"""What every data source provides: canonical bars (``services.data.bars``) for a
``CODE.EXCHANGE`` symbol (``services.data.symbols``), factors and corporate actions.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import pandas as pd

    from services.data.actions import Actions
    from services.data.adjust import Factors


class SourceError(RuntimeError):
    """A source could not deliver for one symbol (after retries); the others go on."""

    def __init__(self, what: str, reason: str, offline: bool = False) -> None:
        super().__init__(f"{what}: {reason}")
        self.what = what
        self.reason = reason
        self.offline = offline  # the network, not the data, failed


class Source(Protocol):
    """A provider of history. Methods raise SourceError for a failure of one request."""

    name: str

    def bars(self, vt_symbol: str, freq: str, start: date, end: date) -> pd.DataFrame:
        """Raw (unadjusted) canonical bars in [start, end]."""
        ...

    def factors(self, vt_symbol: str) -> Factors:
        """Cumulative back-adjustment factors by ex-date ([] when none apply)."""
        ...

    def actions(self, vt_symbol: str) -> Actions:
        """Implemented dividends and bonus shares by ex-date ([] when none apply)."""
        ...

    def calendar(self) -> list[date]:
        """The A-share trading calendar (SSE/SZSE share it)."""
        ...

    def names(self) -> dict[str, str]:
        """A-share code → name."""
        ...
