"""What a write to the store decides and records, apart from the writing itself.

The incremental test (does a batch simply follow the stored bars?), the
metadata a write leaves, and the quarantine library's append. Store uses these
for single writes, batched ones and folds alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from services.data.actions import Actions, to_meta
from services.data.adjust import Factors, factor_rows
from services.data.records import SymbolMeta, set_range
from services.data.validate import Report


def note_batch(
    meta: SymbolMeta,
    report: Report,
    rejects: pd.DataFrame | None,
    source: str,
    name: str,
    batch: str,
) -> None:
    """Record in ``meta`` what validation found in a batch and where it came from."""
    for rule, count in report.counts.items():
        meta.issues[rule] = meta.issues.get(rule, 0) + count
    if rejects is not None and len(rejects):
        meta.issues["unreadable"] = meta.issues.get("unreadable", 0) + len(rejects)
    meta.gaps = sorted({*meta.gaps, *(d.isoformat() for d in report.gaps)})
    meta.suspensions = sorted({*meta.suspensions, *(d.isoformat() for d in report.suspensions)})
    meta.source = source or meta.source
    meta.name = name or meta.name
    meta.last_sync = batch


def append_quarantine(lib: Any, key: str, frame: pd.DataFrame) -> None:
    """Add refused rows to ``key`` (``<vt_symbol>@<freq>``), numbered after the stored ones."""
    if lib.has_symbol(key):
        start = lib.get_description(key).row_count
        frame.index = pd.RangeIndex(start, start + len(frame))
        lib.append(key, frame)
    else:
        lib.write(key, frame.reset_index(drop=True))


def take_reference(meta: SymbolMeta, factors: Factors | None, actions: Actions | None) -> None:
    """A source's factors and corporate actions replace the stored ones (None: keep them)."""
    if factors is not None:
        meta.factors = factor_rows(factors)
    if actions is not None:
        meta.actions = to_meta(actions)


def is_simple(before: SymbolMeta, after: SymbolMeta, report: Report, given: int) -> bool:
    """A write that only adds rows after the stored ones: every row clean, no gap or note,
    and the metadata unchanged but for the range, last close and sync time (it can then
    wait among the recent rows)."""
    if len(report.clean) != given or report.gaps or report.suspensions or report.notes:
        return False
    same = ("source", "name", "factors", "actions", "gaps", "suspensions", "issues")
    return all(getattr(before, f) == getattr(after, f) for f in same)


def follows(meta: SymbolMeta, bars: pd.DataFrame) -> bool:
    """``bars`` all come after the stored ones, whose last close the metadata has: the
    incremental case, validated and written without reading stored rows."""
    return bool(
        len(bars)
        and meta.last
        and meta.last_close > 0
        and bars.index.min() > pd.Timestamp(meta.last)
    )


def last_close(meta: SymbolMeta) -> pd.DataFrame:
    """The stored bar before an incremental batch, as validation needs it (its close)."""
    index = pd.DatetimeIndex(np.array([meta.last], dtype="datetime64[ns]"))  # no parsing
    return pd.DataFrame({"close": np.array([meta.last_close])}, index=index)


def extend(meta: SymbolMeta, clean: pd.DataFrame, exists: bool) -> None:
    """``meta`` once ``clean`` is written after the stored rows, or as the first ones."""
    first = pd.Timestamp(meta.first) if exists else clean.index.min()
    set_range(meta, first, clean.index.max(), meta.rows + len(clean))
    meta.last_close = float(clean["close"].iloc[-1])
    if exists:
        meta.appends += 1


def batch_failure(results: list[Any], what: str) -> str:
    """Why a batched ArcticDB call failed, for its first failed symbol ("" if none): such
    calls return errors in place of results rather than raise."""
    for result in results:
        if not hasattr(result, "version"):
            return f"batched {what} failed for {result.symbol}: {result}"
    return ""
