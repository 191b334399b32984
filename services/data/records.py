"""What the store keeps about symbols and writes, apart from the bars themselves.

A symbol's metadata travels in the same ArcticDB version as its rows; a
write's result says what was stored, already there, or quarantined.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from services.data.actions import Actions
from services.data.adjust import Factors
from services.data.validate import Report


@dataclass(frozen=True)
class StoreInfo:
    uri: str
    libraries: tuple[str, ...]


@dataclass
class WriteResult:
    vt_symbol: str
    freq: str
    stored: int
    unchanged: int
    report: Report
    rejected_lines: int = 0
    version: int | None = None

    @property
    def quarantined(self) -> int:
        return len(self.report.quarantined) + self.rejected_lines

    def summary(self) -> str:
        text = self.report.summary()
        if self.unchanged:
            text += f"; {self.unchanged} already stored"
        if self.rejected_lines:
            text += f"; {self.rejected_lines} unreadable lines quarantined"
        return f"{self.vt_symbol} {self.freq}: {text}"


@dataclass
class SymbolMeta:
    """What the store knows about one symbol at one frequency."""

    source: str = ""
    name: str = ""
    first: str = ""
    last: str = ""
    rows: int = 0
    last_sync: str = ""
    factors: list[list[Any]] = field(default_factory=list)  # [[iso date, hfq factor]]
    actions: list[list[Any]] = field(default_factory=list)  # [[iso ex-date, cash, ratio]]
    gaps: list[str] = field(default_factory=list)
    suspensions: list[str] = field(default_factory=list)
    issues: dict[str, int] = field(default_factory=dict)  # rule -> quarantined rows
    last_close: float = 0.0  # so an append after the last bar needs no read for its checks
    appends: int = 0  # appends since the last compaction

    def factor_list(self) -> Factors:
        return [(date.fromisoformat(d), float(f)) for d, f in self.factors]

    @classmethod
    def from_dict(cls, data: Any) -> SymbolMeta:
        if not isinstance(data, dict):
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class Incoming:
    """One symbol's bars for :meth:`Store.write_many`."""

    vt_symbol: str
    bars: pd.DataFrame
    name: str = ""
    factors: Factors | None = None
    actions: Actions | None = None


def drop_already_stored(bars: pd.DataFrame, stored: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Rows identical to a stored row are not new (re-import / overlapping sync)."""
    if not len(stored) or not len(bars):
        return bars, 0
    joined = bars.join(stored, how="left", rsuffix="_s")
    same = pd.Series(True, index=bars.index)
    for column in ("open", "high", "low", "close", "volume"):
        a, b = joined[column], joined[f"{column}_s"]
        same &= (a == b) | (a.isna() & b.isna())
    same &= ~bars.index.duplicated(keep="first")
    mask = same.to_numpy()
    return bars[~mask], int(mask.sum())


def set_range(meta: SymbolMeta, first: Any, last: Any, rows: int) -> None:
    meta.first = pd.Timestamp(first).isoformat()
    meta.last = pd.Timestamp(last).isoformat()
    meta.rows = int(rows)


def meta_dict(meta: SymbolMeta) -> dict[str, Any]:
    return {k: getattr(meta, k) for k in meta.__dataclass_fields__}


def quarantine_frame(
    rows: pd.DataFrame, rejects: pd.DataFrame | None, batch: str
) -> pd.DataFrame | None:
    """Refused rows (validation's, with rule and reason) and unreadable lines as one frame
    in the quarantine library's columns; None when there are none."""
    parts = []
    if len(rows):
        part = rows.reset_index().rename(columns={"datetime": "when"})
        part["when"] = part["when"].astype(str)
        part["line"] = -1
        part["text"] = ""
        parts.append(part)
    if rejects is not None and len(rejects):
        part = rejects.copy()
        part["when"] = ""
        part["rule"] = "unreadable"
        parts.append(part)
    if not parts:
        return None
    frame = pd.concat(parts, ignore_index=True)
    frame["batch"] = batch
    for column in ("open", "high", "low", "close", "volume", "amount"):
        if column not in frame:
            frame[column] = float("nan")
    frame = frame[
        [
            "when",
            "open",
            "high",
            "low",
            "close",
            "volume",
            "amount",
            "rule",
            "reason",
            "line",
            "text",
            "batch",
        ]
    ].astype({"when": str, "rule": str, "reason": str, "text": str, "batch": str, "line": "int64"})
    return frame
