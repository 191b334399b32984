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
from services.data.records import SymbolMeta, meta_dict, set_range
from services.data.validate import Report

COMPACT_RATIO = 8  # compact when a symbol has 8x more row slices than compaction would leave
COMPACT_EVERY = 50  # appends between two compaction checks


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


def store_clean(
    lib: Any,
    vt_symbol: str,
    clean: pd.DataFrame,
    stored: pd.DataFrame,
    exists: bool,
    meta: SymbolMeta,
) -> int:
    """Store ``clean`` rows of ``vt_symbol`` with ``meta`` in one version: a write, an
    append after the stored bars, or an update of the range they fall in; the version."""
    if not len(clean):
        return int(lib.write_metadata(vt_symbol, meta_dict(meta)).version) if exists else -1
    if not exists:
        extend(meta, clean, exists)
        return int(lib.write(vt_symbol, clean, metadata=meta_dict(meta)).version)
    first, last = pd.Timestamp(meta.first), pd.Timestamp(meta.last)
    total = meta.rows + len(clean)
    if clean.index.min() > last:  # the common case: new bars after the stored ones
        extend(meta, clean, exists)
        version = lib.append(vt_symbol, clean, metadata=meta_dict(meta)).version
    else:  # bars inside the stored range: rewrite that range with both, in one version
        set_range(meta, min(first, clean.index.min()), max(last, clean.index.max()), total)
        if clean.index.max() >= last:
            meta.last_close = float(clean["close"].iloc[-1])
        merged = pd.concat([stored, clean]).sort_index(kind="stable")
        version = lib.update(vt_symbol, merged, metadata=meta_dict(meta)).version
    return compact_if_due(lib, vt_symbol, meta, int(version))


def compact_if_due(lib: Any, vt_symbol: str, meta: SymbolMeta, version: int) -> int:
    """Many small appends fragment a symbol (reads slow down ~18x after 2,000 of them):
    every COMPACT_EVERY appends, compact if the fragments are many times the minimum."""
    if meta.appends < COMPACT_EVERY:
        return version
    plan = lib.compact_data_explain_plan(vt_symbol)
    if plan.num_row_slices_before > COMPACT_RATIO * plan.num_row_slices_after:
        lib.compact_data(vt_symbol, prune_previous_versions=False)
    meta.appends = 0
    return int(lib.write_metadata(vt_symbol, meta_dict(meta)).version)
