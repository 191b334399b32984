"""Daily bars of the whole universe in one dense block, for universe reads.

The per-symbol library ``bars_1d`` (with the days held in ``recent_1d``, see
data/recent.py) stays the record: validation, metadata and single-symbol reads
are unchanged. Beside it,
``panels_1d`` holds one ArcticDB frame, ``block``: a row per (date, symbol),
date-major, every stored symbol present on every date (NaN where it has no
bar), one column per field. Its metadata names the symbols in their order, so
a field of the universe is one column reshaped to dates × symbols with no
copy. Reading a universe is then one read of six columns (ArcticDB's
per-symbol overhead held the old path to 5.5× CSV, and a frame with a column
per symbol spends most of its read building a pandas block per column). Every
symbol's adjustment factors sit in one metadata record and are applied with
numpy on read.

Consistency: a symbol is marked *stale* before its bars change and cleared
only once its panel columns match. A batch of new days (the daily sync) is
one append of a row per symbol and date; any other write leaves the symbol stale, and the next
universe read rebuilds the stale columns from ``bars_1d`` first (logged). A
write cut short between the two is therefore repaired by the next read, never
served.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from services.data.adjust import ADJUSTS, Factors, factor_rows, segments_at
from services.data.bars import COLUMNS, PRICES

log = logging.getLogger("quantdesk.store")

LIBRARY = "panels_1d"
RECENT_DAYS = 5  # dates of the block an append may still fill in (a sync's later batches)
BLOCK = "block"  # metadata: {"symbols": [vt_symbol, ...]}, the order of each date's rows
STATE = "_state"  # metadata: {"stale": [vt_symbol, ...], "factors": {vt_symbol: [[iso, f]]}}


class PanelError(RuntimeError):
    """A universe read asked for what the store does not hold."""


class Panels:
    """The panel library of one store. ``bars`` is the per-symbol daily library."""

    def __init__(self, lib: Any, bars: Any) -> None:
        self.lib = lib
        self.bars = bars

    # -- state ---------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        if not self.lib.has_symbol(STATE):
            # Never built (a new store, or one from before panels): every stored symbol is
            # stale, so the first universe read builds the block from bars_1d.
            return {"stale": sorted(self.bars.list_symbols()), "factors": {}}
        meta = self.lib.read_metadata(STATE).metadata or {}
        return {"stale": list(meta.get("stale", [])), "factors": dict(meta.get("factors", {}))}

    def _save(self, state: Mapping[str, Any]) -> None:
        payload = {"stale": sorted(set(state["stale"])), "factors": state["factors"]}
        if self.lib.has_symbol(STATE):
            self.lib.write_metadata(STATE, payload, prune_previous_versions=True)
        else:
            self.lib.write(STATE, pd.DataFrame({"v": [0]}), metadata=payload)

    def mark_stale(self, symbols: Iterable[str]) -> list[str]:
        """Before ``symbols``' bars change: their rows are not to be trusted until rebuilt.
        Returns the symbols that were stale before."""
        state = self._state()
        before = list(state["stale"])
        new = set(symbols) - set(before)
        if new or not self.lib.has_symbol(STATE):
            state["stale"] = [*before, *new]
            self._save(state)
        return before

    def stale(self) -> list[str]:
        return sorted(self._state()["stale"])

    # -- writing -------------------------------------------------------------------------
    def append(
        self,
        rows: Mapping[str, pd.DataFrame],
        factors: Mapping[str, Factors],
        *,
        stale_after: list[str] | None = None,
    ) -> bool:
        """New days of many symbols: one append to the block, or, when some of their dates
        are already in it (an earlier batch of the same sync), one update from the first of
        those dates that fills the empty cells.

        Returns False (the symbols are left stale, for the next read to rebuild) when the
        rows do not simply extend the block: a symbol new to it, a date before the recent
        ones, or a cell that already holds a different value.
        ``stale_after``: the caller marked ``rows``' symbols stale before writing them (as
        Store.write_many does) and these are to stay stale once the append is done.
        """
        rows = {s: f for s, f in rows.items() if len(f)}
        if stale_after is None:  # marked here, first: a crash before the append leaves them
            stale_after = self.mark_stale(rows)
        state = self._state()
        if not rows:  # nothing new: the batch's symbols are as the block has them
            state["stale"] = stale_after
            self._save(state)
            return True
        order, last = self._layout()
        first_new = min(f.index.min() for f in rows.values())
        position = {s: i for i, s in enumerate(order)}
        if last is None or any(s not in position for s in rows):
            return False
        dates = pd.DatetimeIndex(sorted({d for f in rows.values() for d in f.index}))
        held = pd.DatetimeIndex([])
        if first_new <= last:  # dates the block holds: fill them in, if they are recent
            try:
                _, held, old = self._read_block(list(COLUMNS), (first_new, last))
            except PanelError:  # torn: every symbol is now marked for a rebuild
                return False
            if len(held) > RECENT_DAYS or not set(dates[dates <= last]) <= set(held):
                return False
            dates = held.union(dates)
        grids = {c: np.full((len(dates), len(order)), np.nan) for c in COLUMNS}
        for column in COLUMNS:
            if len(held):
                grids[column][: len(held)] = old[column]
        # Every symbol's cells at once: row and column positions, then a field at a time.
        at = np.concatenate([dates.get_indexer(f.index) for f in rows.values()])
        width = [len(f) for f in rows.values()]
        to = np.repeat([position[s] for s in rows], width)
        new = pd.concat(list(rows.values()))
        for column in COLUMNS:
            target = grids[column][at, to]
            values = new[column].to_numpy(dtype="float64")
            clash = ~np.isnan(target) & ~np.isclose(target, values, equal_nan=True)
            if clash.any():  # a stored value would change: that is a rewrite
                return False
            grids[column][at, to] = values
        block = _block(dates, order, grids)
        # Not pruned: another process may be reading the version this one replaces.
        if len(held):
            self.lib.update(BLOCK, block, metadata={"symbols": order})
        else:
            self.lib.append(BLOCK, block, metadata={"symbols": order})
        for symbol in rows:
            state["factors"][symbol] = factor_rows(factors.get(symbol, []))
        state["stale"] = stale_after  # symbols stale before this batch still are
        self._save(state)
        return True

    def rebuild(self) -> int:
        """Bring every stale symbol's rows in line with ``bars_1d``; returns how many."""
        state = self._state()
        stale = sorted(set(state["stale"]))
        if not stale:
            return 0
        gone = set(stale)
        present = [s for s in stale if self.bars.has_symbol(s)]
        items = self.bars.read_batch(present) if present else []
        factors = {s: f for s, f in state["factors"].items() if s not in gone}
        columns: dict[str, list[pd.Series]] = {c: [] for c in COLUMNS}
        order, _ = self._layout()
        keep = [i for i, s in enumerate(order) if s not in gone]
        if keep:  # the symbols that keep their rows
            order, dates, grids = self._read_block(list(COLUMNS), None)
            for c in COLUMNS:
                frame = pd.DataFrame(
                    grids[c][:, keep], index=dates, columns=[order[i] for i in keep]
                )
                columns[c].extend(frame[s] for s in frame.columns)
        for symbol, item in zip(present, items, strict=True):
            if not hasattr(item, "data"):
                raise RuntimeError(f"cannot read {symbol} to rebuild the daily panels: {item}")
            for c in COLUMNS:
                columns[c].append(item.data[c].rename(symbol))
            meta = item.metadata if isinstance(item.metadata, dict) else {}
            factors[symbol] = list(meta.get("factors", []))
        order = sorted(factors)
        wide = {c: pd.concat(columns[c], axis=1, sort=True).reindex(columns=order) for c in COLUMNS}
        dates = pd.DatetimeIndex(wide["close"].index if order else [])
        grids = {c: wide[c].reindex(index=dates).to_numpy(dtype="float64") for c in COLUMNS}
        self.lib.write(
            BLOCK,
            _block(dates, order, grids),
            metadata={"symbols": order},
            prune_previous_versions=True,
        )
        state = self._state()  # re-read: keep anything marked while this ran
        state["factors"] = factors
        state["stale"] = [s for s in state["stale"] if s not in gone]
        self._save(state)
        log.info("daily panels rebuilt for %d symbols", len(stale))
        return len(stale)

    # -- reading -------------------------------------------------------------------------
    def read(
        self,
        symbols: list[str],
        fields: Iterable[str] = COLUMNS,
        how: str = "none",
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> dict[str, pd.DataFrame]:
        """``fields`` of ``symbols`` as dates × symbols frames, adjusted on read."""
        if how not in ADJUSTS:
            raise ValueError(f"unknown adjustment {how!r}: expected none, qfq or hfq")
        fields = list(fields)
        unknown_fields = [f for f in fields if f not in COLUMNS]
        if unknown_fields:
            raise ValueError(f"unknown field {unknown_fields[0]!r}: expected {', '.join(COLUMNS)}")
        state = self._state()
        if state["stale"]:
            self.rebuild()
            state = self._state()
        known = state["factors"]
        missing = [s for s in symbols if s not in known]
        if missing:
            more = f" (and {len(missing) - 3} more)" if len(missing) > 3 else ""
            raise PanelError(
                f"no 1d bars for {', '.join(missing[:3])}{more} in the store: sync or import first"
            )
        window = (start, end) if start is not None or end is not None else None
        order, dates, grids = self._read_block(fields, window)
        position = {s: i for i, s in enumerate(order)}
        at = [position[s] for s in symbols]
        if at == list(range(len(order))):  # the whole universe in stored order: no gather
            arrays = {f: grids[f].copy() for f in fields}  # a copy: the caller may edit it
        else:
            arrays = {f: grids[f][:, at] for f in fields}
        if arrays:  # dates on which none of the symbols traded are not rows
            traded = ~np.isnan(arrays[fields[0]]).all(axis=1)
            if not traded.all():
                dates = dates[traded]
                arrays = {f: a[traded] for f, a in arrays.items()}
        if how != "none" and any(f in PRICES for f in fields):
            scale = _factor_matrix(dates, symbols, known, how)
            for field in fields:
                if field in PRICES:
                    arrays[field] *= scale
        return {f: pd.DataFrame(a, index=dates, columns=symbols) for f, a in arrays.items()}

    def _read_block(
        self, fields: list[str], window: tuple[Any, Any] | None
    ) -> tuple[list[str], pd.DatetimeIndex, dict[str, np.ndarray]]:
        """The block's symbol order, dates and a dates × symbols array per field (views)."""
        item = self.lib.read(BLOCK, columns=fields, date_range=window)
        order = list((item.metadata or {}).get("symbols", []))
        frame = item.data
        width = max(len(order), 1)
        if len(frame) % width:
            # Not one row per symbol and date: trust none of it. Every symbol is marked,
            # so the next universe read rebuilds the whole block from bars_1d.
            self.mark_stale(self.bars.list_symbols())
            raise PanelError(
                f"the daily panel block has {len(frame)} rows, not a multiple of its "
                f"{len(order)} symbols: it is rebuilt from the per-symbol bars on the next "
                "universe read"
            )
        dates = pd.DatetimeIndex(frame.index[::width], name="datetime")
        grids = {f: frame[f].to_numpy().reshape(len(dates), len(order)) for f in fields}
        return order, dates, grids

    def _layout(self) -> tuple[list[str], pd.Timestamp | None]:
        """The block's symbol order and last date (None: no block yet)."""
        if not self.lib.has_symbol(BLOCK):
            return [], None
        order = list((self.lib.read_metadata(BLOCK).metadata or {}).get("symbols", []))
        last = self.lib.get_description(BLOCK).date_range[1]
        return order, None if pd.isna(last) else pd.Timestamp(last)


def _block(
    dates: pd.DatetimeIndex, order: list[str], grids: Mapping[str, np.ndarray]
) -> pd.DataFrame:
    """dates × symbols arrays as the block's rows: each date repeated once per symbol."""
    index = pd.DatetimeIndex(np.repeat(dates.to_numpy(), len(order)), name="datetime")
    return pd.DataFrame({c: grids[c].reshape(-1) for c in COLUMNS}, index=index)


def _factor_matrix(
    index: pd.DatetimeIndex, symbols: list[str], known: Mapping[str, Any], how: str
) -> np.ndarray:
    """dates × symbols multipliers: f(t) for hfq, f(t) / f(last) for qfq (as adjust())."""
    scale = np.ones((len(index), len(symbols)))
    stamps = index.asi8
    pairs = [known.get(symbol) or [] for symbol in symbols]
    # Every ex-date parsed in one call: per-date parsing was most of a 1,000-symbol read.
    days = np.array([d for p in pairs for d, _ in p], dtype="datetime64[ns]").astype("int64")
    at = 0
    for j, p in enumerate(pairs):
        levels = [float(f) for _, f in p]
        for lo, hi, multiplier in segments_at(stamps, days[at : at + len(p)], levels, how):
            scale[lo:hi, j] = multiplier
        at += len(p)
    return scale
