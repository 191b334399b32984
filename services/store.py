"""The market-data store: ArcticDB, LMDB under the data directory by default.

Any ArcticDB URI (s3://, azure://, lmdb://) is accepted so that several
machines can share one store. One library per frequency (``bars_1d``,
``bars_1m``), ``quarantine`` for rejected rows and ``reference`` for the
exchange calendar; for daily bars also ``recent_1d`` (a sync's new days, held
together until they are folded into ``bars_1d``: data/recent.py) and
``panels_1d`` (the universe in one block: data/panels.py). Symbols are vnpy
vt_symbols (``600519.SSE``).

Every write is validated first; the clean rows and the symbol's metadata
(source, range, last sync, adjustment factors, gaps, open issues) go in one
ArcticDB version, so a reader never sees half a batch; held daily rows and
their entries likewise. arcticdb is imported
lazily: its import costs ~0.5 s and the console opens the store after the
first paint.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pandas as pd

from services.data.actions import Actions, PitRefused, from_meta, pit_frame
from services.data.adjust import Factors, adjust
from services.data.bars import COLUMNS, empty, library_for
from services.data.panels import LIBRARY as PANELS
from services.data.panels import PanelError, Panels
from services.data.recent import FOLD_DAYS, DailyBars, Recent, with_recent
from services.data.recent import LIBRARY as RECENT
from services.data.records import (
    Incoming,
    StoreInfo,
    SymbolMeta,
    WriteResult,
    drop_already_stored,
    meta_dict,
    quarantine_frame,
)
from services.data.store_guard import RoomChecked, guard
from services.data.symbols import check_symbol
from services.data.validate import Report, validate
from services.data.writes import (
    COMPACT_EVERY,
    append_quarantine,
    batch_failure,
    compact_if_due,
    extend,
    follows,
    is_simple,
    last_close,
    note_batch,
    store_clean,
    take_reference,
)
from services.ops.redact import redact

log = logging.getLogger("quantdesk.store")

LIBRARIES = ("bars_1d", "bars_1m", "quarantine", "reference", PANELS, RECENT)
EMPTY = empty()  # shared, never modified: a placeholder for "nothing stored here"
CALENDAR_SYMBOL = "calendar.SSE"
MIN_FREE_BYTES = 32 * 2**20  # kept free on the store's disk whatever the write


class StoreError(RuntimeError):
    """The store could not be opened or used; the message says which URI and why."""


def store_uri(configured: str, data_dir: Path) -> str:
    """The configured URI, or the embedded default ``lmdb://<data_dir>/arctic``."""
    return configured or f"lmdb://{data_dir / 'arctic'}"


class Store:
    """An opened ArcticDB with quantdesk's libraries created."""

    def __init__(self, uri: str, log_file: Path | None = None) -> None:
        self.uri = uri
        self.log_file = log_file  # ArcticDB's native logger writes here, not to the terminal
        self._arctic: Any = None
        self._calendar: list[date] | None = None  # read once, replaced on write
        self._recent: Recent | None = None

    @classmethod
    def of(cls, data_dir: Path, uri: str = "") -> Store:
        """The store of ``data_dir``: the configured ``uri`` (else the embedded LMDB), with
        ArcticDB's native log in ``<data dir>/logs``. Not opened yet."""
        return cls(store_uri(uri, data_dir), log_file=data_dir / "logs" / "arcticdb.log")

    def open(self) -> StoreInfo:
        try:
            import arcticdb
            import arcticdb.config

            if self.log_file is not None:
                self.log_file.parent.mkdir(parents=True, exist_ok=True)
                arcticdb.config.set_log_level(
                    "WARN", console_output=False, file_output_path=str(self.log_file)
                )

            if self.uri.startswith("lmdb://"):
                Path(self.uri.removeprefix("lmdb://").split("?")[0]).mkdir(
                    parents=True, exist_ok=True
                )
            self._arctic = arcticdb.Arctic(self.uri)
            existing = set(self._arctic.list_libraries())
            for name in LIBRARIES:
                if name not in existing:
                    self._arctic.create_library(name)
        except Exception as exc:  # arcticdb raises many types; report one clear error
            raise StoreError(
                f"cannot open the ArcticDB store {redact(self.uri)}: {redact(str(exc))}"
            ) from exc
        # Not list_symbols(): on LMDB it waits ~1 s per library for a lock at open.
        info = StoreInfo(redact(self.uri), tuple(sorted(self._arctic.list_libraries())))
        log.info("store ready: %s (libraries %s)", info.uri, ", ".join(info.libraries))
        return info

    def library(self, name: str) -> Any:
        """Library ``name``; its writes check the disk has room first (store_guard.py)."""
        if self._arctic is None:
            raise StoreError("the store is not open yet")
        return RoomChecked(self._arctic[name], self.ensure_room)

    def ensure_room(self, nbytes: int) -> None:
        """Refuse a write of about ``nbytes`` while the store's disk has less free than
        LMDB may need for it (copy-on-write pages, growth) plus a margin: ArcticDB on a
        full LMDB disk crashes the process instead of raising."""
        if not self.uri.startswith("lmdb://"):
            return
        folder = Path(self.uri.removeprefix("lmdb://").split("?")[0])
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            return  # cannot tell: the write itself will say
        need = MIN_FREE_BYTES + 4 * nbytes
        if free < need:
            raise StoreError(
                f"the disk of the store {folder} has {free / 2**20:,.1f} MB free; this write "
                f"needs about {need / 2**20:,.0f} MB: nothing was written. Free space (or "
                "move the data directory to a larger disk), then retry"
            )

    @property
    def panels(self) -> Panels:
        """The daily bars of every symbol as one frame per field (see data/panels.py)."""
        return Panels(self.library(PANELS), DailyBars(self.library("bars_1d"), self.recent))

    @property
    def recent(self) -> Recent:
        """Daily rows a sync added and not yet folded into bars_1d (see data/recent.py)."""
        if self._recent is None:
            self._recent = Recent(self.library(RECENT))
        return self._recent

    # -- metadata ---------------------------------------------------------------------------
    def meta(self, vt_symbol: str, freq: str) -> SymbolMeta | None:
        lib = self.library(library_for(freq))
        if not lib.has_symbol(vt_symbol):
            return None
        meta = SymbolMeta.from_dict(lib.read_metadata(vt_symbol).metadata)
        entry = self.recent.entries().get(vt_symbol) if freq == "1d" else None
        return entry.over(meta) if entry else meta

    def metas(self, symbols: list[str], freq: str) -> dict[str, SymbolMeta]:
        """What the store knows of each of ``symbols`` (absent: not stored), in one read."""
        return self._overlaid(symbols, freq)[0]

    def _overlaid(self, symbols: list[str], freq: str) -> tuple[dict[str, SymbolMeta], list[str]]:
        """metas(), and the symbols whose recent rows are already in bars_1d (a fold cut
        short): their copies must go before they are added to."""
        found = self._stored_metas(symbols, freq)
        entries = self.recent.entries() if freq == "1d" and found else {}
        done = [s for s, m in found.items() if s in entries and not entries[s].applies(m)]
        return {s: entries[s].over(m) if s in entries else m for s, m in found.items()}, done

    def _stored_metas(self, symbols: list[str], freq: str) -> dict[str, SymbolMeta]:
        """The metadata in the per-symbol library, without recent rows."""
        lib = self.library(library_for(freq))
        found = lib.read_metadata_batch(symbols) if symbols else []
        return {
            s: SymbolMeta.from_dict(item.metadata)
            for s, item in zip(symbols, found, strict=True)
            if hasattr(item, "metadata")  # a DataError: no such symbol
        }

    def delete(self, vt_symbol: str, freq: str) -> bool:
        """Remove a symbol's bars and metadata at ``freq`` (snapshots keep old versions)."""
        lib = self.library(library_for(freq))
        if not lib.has_symbol(vt_symbol):
            return False
        if freq == "1d":
            self.panels.mark_stale([vt_symbol])
            self.recent.remove([vt_symbol])
        lib.delete(vt_symbol)
        return True

    def symbols(self, freq: str) -> list[str]:
        return sorted(self.library(library_for(freq)).list_symbols())

    # -- reading -----------------------------------------------------------------------------
    def read_bars(
        self,
        vt_symbol: str,
        freq: str,
        start: datetime | date | None = None,
        end: datetime | date | None = None,
        how: str = "none",
        as_of: str | None = None,
    ) -> pd.DataFrame:
        """Stored bars in [start, end], adjusted on read (``none``, ``qfq`` or ``hfq``);
        with ``as_of``, as the named snapshot holds them (data and factors)."""
        frame, meta = self._read(vt_symbol, freq, start, end, as_of)
        return adjust(frame, meta.factor_list(), how, inplace=True)

    def _read(
        self,
        vt_symbol: str,
        freq: str,
        start: datetime | date | None,
        end: datetime | date | None,
        as_of: str | None,
    ) -> tuple[pd.DataFrame, SymbolMeta]:
        """Raw stored bars in [start, end] and the metadata of the same version."""
        from arcticdb.exceptions import NoDataFoundException

        lib = self.library(library_for(freq))
        snapshots = lib.list_snapshots() if as_of is not None else {}
        if as_of is not None and as_of not in snapshots:
            recent = sorted(snapshots)[-3:]
            raise StoreError(
                f"no snapshot {as_of!r} of the {freq} bars"
                + (f" (the latest: {', '.join(recent)})" if recent else " (none taken yet)")
            )
        if isinstance(end, date) and not isinstance(end, datetime):
            end = datetime.combine(end, time.max)  # a day as the end includes that whole day
        try:  # no date_range unless asked: an open range still costs a filtering pass
            item = lib.read(
                vt_symbol, date_range=(start, end) if start or end else None, as_of=as_of
            )
        except NoDataFoundException:  # (NoSuchVersionException is one)
            where = f"snapshot {as_of}" if as_of else "the store"
            raise StoreError(
                f"no {freq} bars for {vt_symbol} in {where}: sync or import first"
            ) from None
        meta = SymbolMeta.from_dict(item.metadata)
        if freq != "1d":
            return item.data, meta
        held = self.recent.held(None if as_of is None else _recent_version(snapshots[as_of]))
        entry = held.entries.get(vt_symbol)
        if entry is None or not entry.applies(meta):
            return item.data, meta
        rows = held.frames.get(vt_symbol)
        if rows is not None and (start or end):
            rows = rows.loc[_stamp(start) : _stamp(end)]
        return with_recent(item.data, meta, entry, rows), entry.over(meta)

    def read_pit(
        self,
        vt_symbol: str,
        freq: str,
        end: datetime | date | None = None,
        as_of: str | None = None,
    ) -> pd.DataFrame:
        """Bars for a point-in-time backtest: hfq prices for signals (they depend only on
        actions already past), the raw prices a real account trades as ``exec_open`` ...
        ``exec_close``, and the corporate actions per bar as ``div_cash`` (per share) and
        ``share_ratio``. Refused when the factors show actions the store has no record of."""
        raw, meta = self._read(vt_symbol, freq, None, end, as_of)
        try:
            return pit_frame(vt_symbol, raw, meta.factor_list(), from_meta(meta.actions))
        except PitRefused as exc:
            raise StoreError(str(exc)) from None

    def read_many(
        self, symbols: list[str], freq: str, how: str = "none"
    ) -> dict[str, pd.DataFrame]:
        """Whole histories of many symbols in one batched ArcticDB read, adjusted."""
        lib = self.library(library_for(freq))
        reader = DailyBars(lib, self.recent) if freq == "1d" else lib  # 1d: held rows too
        items = reader.read_batch(symbols)
        out: dict[str, pd.DataFrame] = {}
        for symbol, item in zip(symbols, items, strict=True):
            if not hasattr(item, "data"):  # a DataError for that symbol
                raise StoreError(f"no {freq} bars for {symbol} in the store: sync or import first")
            factors = SymbolMeta.from_dict(item.metadata).factor_list()
            out[symbol] = adjust(item.data, factors, how, inplace=True)
        return out

    def read_panel(
        self,
        symbols: list[str],
        fields: tuple[str, ...] = COLUMNS,
        how: str = "none",
        start: date | None = None,
        end: date | None = None,
    ) -> dict[str, pd.DataFrame]:
        """Daily ``fields`` of many symbols, each a dates × symbols frame, adjusted on read:
        one batched read of the panels (25x CSV for 1,000 symbols, see the README)."""
        try:
            return self.panels.read(
                symbols,
                fields,
                how,
                pd.Timestamp(start) if start else None,
                pd.Timestamp(datetime.combine(end, time.max)) if end else None,
            )
        except PanelError as exc:
            raise StoreError(str(exc)) from None

    def calendar(self) -> list[date]:
        """The stored exchange calendar (cached: every daily write checks gaps against it)."""
        if self._calendar is None:
            lib = self.library("reference")
            if not lib.has_symbol(CALENDAR_SYMBOL):
                return []
            index = pd.DatetimeIndex(lib.read(CALENDAR_SYMBOL).data.index)
            self._calendar = list(index.date)
        return self._calendar

    def write_calendar(self, days: list[date]) -> None:
        unique = sorted(set(days))
        if unique == self._calendar:
            return
        index = pd.DatetimeIndex(unique, name="datetime")
        self.library("reference").write(CALENDAR_SYMBOL, pd.DataFrame({"open": 1}, index=index))
        self._calendar = unique

    # -- writing -----------------------------------------------------------------------------
    def write_bars(
        self,
        vt_symbol: str,
        freq: str,
        bars: pd.DataFrame,
        *,
        source: str,
        name: str = "",
        factors: Factors | None = None,
        actions: Actions | None = None,
        suspensions: frozenset[date] = frozenset(),
        rejects: pd.DataFrame | None = None,
        sync_time: datetime | None = None,
    ) -> WriteResult:
        """Validate ``bars`` and store the clean rows with the symbol's metadata, atomically.

        ``bars`` are taken in the order given (the ``out_of_order`` rule sees it).
        """
        from arcticdb.exceptions import NoDataFoundException

        check_symbol(vt_symbol)  # ValueError: nothing unshowable is ever stored
        lib = self.library(library_for(freq))
        if freq == "1d" and (len(bars) or factors is not None):
            self.panels.mark_stale([vt_symbol])  # before the write: see data/panels.py
        if freq == "1d" and vt_symbol in self.recent.entries():
            self.fold([vt_symbol])  # its recent rows first: this write may not follow them
        try:
            meta = SymbolMeta.from_dict(lib.read_metadata(vt_symbol).metadata)
            exists = True
        except NoDataFoundException:  # (NoSuchVersionException is one)
            meta, exists = SymbolMeta(), False
        take_reference(meta, factors, actions)
        stored = context = EMPTY
        listed = meta.rows  # bars before this batch: the listing exemption counts them
        if exists and len(bars):
            lo, hi = bars.index.min(), bars.index.max()
            if follows(meta, bars):
                context = last_close(meta)  # nothing stored overlaps: no read
            else:
                stored = lib.read(vt_symbol, date_range=(lo, hi)).data
                before = lib.read(vt_symbol, date_range=(None, lo)).data
                context = pd.concat([before.tail(1), stored])
                listed = int((before.index < lo).sum())
        fresh, unchanged = drop_already_stored(bars, stored)
        report = self._validate(
            fresh, vt_symbol, freq, meta, context, name, suspensions, bars_before=listed
        )
        batch = (sync_time or datetime.now()).isoformat(timespec="seconds")
        self._record(vt_symbol, freq, meta, report, rejects, source, name, batch)
        version = store_clean(lib, vt_symbol, report.clean, stored, exists, meta)
        result = WriteResult(
            vt_symbol,
            freq,
            len(report.clean),
            unchanged,
            report,
            0 if rejects is None else len(rejects),
            version,
        )
        level = logging.WARNING if result.quarantined else logging.DEBUG
        log.log(level, "%s", result.summary())  # the sync and the CLI report the totals
        return result

    def write_many(
        self,
        freq: str,
        items: list[Incoming],
        *,
        source: str,
        sync_time: datetime | None = None,
    ) -> list[WriteResult]:
        """Many symbols' bars in batched writes (a sync): one metadata read, one write of the
        new symbols and one append for those whose bars follow the stored ones, and for
        daily bars one append to the panel block. Bars inside a stored range go through
        :meth:`write_bars`, one by one. Validation and metadata are as write_bars's."""
        from arcticdb import WritePayload

        lib = self.library(library_for(freq))
        symbols = [check_symbol(item.vt_symbol) for item in items]
        metas, folded = self._overlaid(symbols, freq)
        if folded:
            self.recent.remove(folded)
        stale_before = self.panels.mark_stale(symbols) if freq == "1d" else []
        batch = (sync_time or datetime.now()).isoformat(timespec="seconds")
        results: dict[str, WriteResult] = {}
        writes, appends, appended, leave_stale = [], [], {}, set(stale_before)
        held: dict[str, pd.DataFrame] = {}  # simple extensions of daily bars: recent rows
        noted: dict[str, SymbolMeta] = {}  # nothing clean: only the metadata changes
        for item in items:
            meta = metas.get(item.vt_symbol)
            exists = meta is not None
            meta = meta or SymbolMeta()
            bars = item.bars
            before = replace(meta, issues=dict(meta.issues))  # _record adds to issues
            if exists and not follows(meta, bars):  # overlapping or empty: the general path
                results[item.vt_symbol] = self.write_bars(
                    item.vt_symbol,
                    freq,
                    bars,
                    source=source,
                    name=item.name,
                    factors=item.factors,
                    actions=item.actions,
                    sync_time=sync_time,
                )
                leave_stale.add(item.vt_symbol)
                continue
            take_reference(meta, item.factors, item.actions)
            context = last_close(meta) if exists else EMPTY
            report = self._validate(
                bars, item.vt_symbol, freq, meta, context, item.name, bars_before=meta.rows
            )
            self._record(item.vt_symbol, freq, meta, report, None, source, item.name, batch)
            clean = report.clean
            results[item.vt_symbol] = WriteResult(item.vt_symbol, freq, len(clean), 0, report)
            if not len(clean):
                if exists:  # what validation found, recorded (after any recent rows)
                    noted[item.vt_symbol] = meta
                continue
            extend(meta, clean, exists)
            if exists and freq == "1d" and is_simple(before, meta, report, len(bars)):
                held[item.vt_symbol] = clean
                appended[item.vt_symbol] = (clean, meta)
            elif exists:
                appends.append(WritePayload(item.vt_symbol, clean, metadata=meta_dict(meta)))
                appended[item.vt_symbol] = (clean, meta)
            else:
                writes.append(WritePayload(item.vt_symbol, clean, metadata=meta_dict(meta)))
                leave_stale.add(item.vt_symbol)  # new to the block: the next read adds it
        _check(lib.write_batch(writes) if writes else [], "write")
        if freq == "1d":  # symbols with recent rows written to directly: theirs go first
            recent = self.recent.entries()
            self.fold([s for s in [*(p.symbol for p in appends), *noted] if s in recent])
        _check(lib.append_batch(appends) if appends else [], "append")
        for symbol, meta in noted.items():
            lib.write_metadata(symbol, meta_dict(meta))
        if held and self.recent.add(held, batch) >= FOLD_DAYS:
            self.fold()
        for payload in appends:  # held rows are not in bars_1d: nothing of theirs to compact
            meta = appended[payload.symbol][1]
            if meta.appends >= COMPACT_EVERY:
                compact_if_due(lib, payload.symbol, meta, -1)
        if freq == "1d":
            rows = {s: clean for s, (clean, _) in appended.items()}
            factors = {s: meta.factor_list() for s, (_, meta) in appended.items()}
            self.panels.append(rows, factors, stale_after=sorted(leave_stale))
        return [results[s] for s in symbols]

    def fold(self, symbols: list[str] | None = None) -> int:
        """Move recent daily rows (all, or ``symbols``') into bars_1d: one batched append
        of each symbol's rows, then their removal from the recent library. Returns how
        many symbols were folded."""
        from arcticdb import WritePayload

        if symbols is not None and not symbols:
            return 0
        held = self.recent.held()
        targets = [s for s in (held.entries if symbols is None else symbols) if s in held.entries]
        if not targets:
            return 0
        lib = self.library("bars_1d")
        stored = self._stored_metas(targets, "1d")
        payloads, folded = [], {}
        for symbol in targets:
            meta, entry = stored.get(symbol), held.entries[symbol]
            if meta is None or not entry.applies(meta):
                continue  # deleted, or folded by a run cut short before it removed the rows
            meta = entry.over(meta)
            meta.appends += 1
            rows = held.frames[symbol]
            payloads.append(WritePayload(symbol, rows, metadata=meta_dict(meta)))
            folded[symbol] = meta
        _check(lib.append_batch(payloads) if payloads else [], "append")
        self.recent.remove(targets)
        for symbol, meta in folded.items():
            if meta.appends >= COMPACT_EVERY:
                compact_if_due(lib, symbol, meta, -1)
        log.info("folded the recent daily rows of %d symbols into bars_1d", len(folded))
        return len(folded)

    def _validate(
        self,
        bars: pd.DataFrame,
        vt_symbol: str,
        freq: str,
        meta: SymbolMeta,
        context: pd.DataFrame,
        name: str,
        suspensions: frozenset[date] = frozenset(),
        bars_before: int = 0,
    ) -> Report:
        """validate() with what the store knows: the stored bars before ``bars`` (context),
        the ex-dates, the calendar (daily bars) and the name (limits of ST shares)."""
        return validate(
            bars,
            vt_symbol,
            freq,
            previous=context if len(context) else None,
            factor_dates=frozenset(d for d, _ in meta.factor_list()),
            calendar=self.calendar() if freq == "1d" else None,
            suspensions=suspensions,
            name=name or meta.name,
            bars_before=bars_before,
        )

    def _record(
        self,
        vt_symbol: str,
        freq: str,
        meta: SymbolMeta,
        report: Report,
        rejects: pd.DataFrame | None,
        source: str,
        name: str,
        batch: str,
    ) -> None:
        """Quarantine what validation refused and note the batch in ``meta``."""
        frame = quarantine_frame(report.quarantined, rejects, batch)
        if frame is not None:
            append_quarantine(self.library("quarantine"), f"{vt_symbol}@{freq}", frame)
        note_batch(meta, report, rejects, source, name, batch)

    def quarantined(self, vt_symbol: str, freq: str) -> pd.DataFrame:
        lib = self.library("quarantine")
        key = f"{vt_symbol}@{freq}"
        return lib.read(key).data if lib.has_symbol(key) else pd.DataFrame()

    def snapshot(self, freq: str, label: str) -> str:
        """A named ArcticDB snapshot of the library, so a backtest can pin the data it saw."""
        name = f"{label}-{datetime.now():%Y%m%dT%H%M%S%f}"
        # The recent daily rows are named by their version (a second snapshot costs ~0.5 s).
        metadata = {"recent": self.recent.version()} if freq == "1d" else None
        self.library(library_for(freq)).snapshot(name, metadata=metadata)
        return name


def _recent_version(metadata: Any) -> int:
    """The recent rows' version a daily snapshot recorded (-1: none, or an older one)."""
    found = metadata.get("recent") if isinstance(metadata, dict) else None
    return int(found) if found is not None else -1


def _stamp(when: datetime | date | None) -> pd.Timestamp | None:
    return None if when is None else pd.Timestamp(when)


def _check(results: list[Any], what: str) -> None:
    problem = batch_failure(results, what)
    if problem:
        raise StoreError(problem)


guard(Store, StoreError)
