"""Backups of a data directory, verified, and their restore.

``quantdesk backup`` (and the nightly ``backup`` job) copies what cannot be fetched
again, each piece consistently while the console may be trading:

- every journal, the saved backtest runs and the alert outbox, through SQLite's online
  backup (a snapshot at one commit; the writer is never blocked), then ``PRAGMA
  integrity_check`` on the copy;
- the ArcticDB store on LMDB, one library at a time, by LMDB's own copy of one read
  snapshot, in a child process (an LMDB path is never opened twice in a process);
- the config file and the watchlist.

Each file's size and SHA-256 go into ``manifest.json``, with the last journal entry
each journal copy holds. A backup is written under ``<name>.partial`` and renamed
when complete, so a crash or a full disk never leaves something that looks like a
backup; the newest ``keep`` backups are kept, recognised by their manifest
(services/ops/manifest.py), never by their name. A backup goes outside the data
directory or into its own ``backups`` folder. ``quantdesk restore BACKUP --data-dir DIR``
verifies every checksum before it writes anything.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from services.ops.datadir import fsync_path
from services.ops.manifest import (
    FORMAT,
    MANIFEST,
    PARTIAL,
    PARTIAL_MARK,
    PREFIX,
    BackupError,
    FileEntry,
    prune,
    sha256,
)
from services.ops.paths import PathError, folder
from services.ops.scheduler import JobBody, JobResult
from services.settings import require

SQLITE_NAMES = ("journal.sqlite3", "backtests.db", "alerts.sqlite3")  # SQLite backup copies
PLAIN = ("watchlist.json",)  # small files copied as they are
COPIER = [sys.executable, "-m", "services.ops.lmdb_copy"]  # its own process, see there


@dataclass(frozen=True)
class BackupConfig:
    """[backup] in config.toml."""

    dir: str = ""
    """Where backups go; empty: ``<data dir>/backups`` (another disk is safer)."""
    keep: int = 7
    """How many complete backups to keep; older ones are deleted after a new one."""
    rate_mb: float = 60.0
    """MB/s the store's copy is written at most (0: as fast as the disk goes). A copy
    written at full speed stalls every writer on the machine, the journal among them."""

    def __post_init__(self) -> None:
        require(self.keep >= 1, "keep", f"must keep at least 1 backup, got {self.keep}")
        require(self.rate_mb >= 0, "rate_mb", f"must be >= 0 (0: no limit), got {self.rate_mb}")

    def root(self, data_dir: Path) -> Path:
        return Path(self.dir).expanduser() if self.dir else data_dir / "backups"


@dataclass(frozen=True)
class BackupResult:
    path: Path
    files: tuple[FileEntry, ...]
    seconds: float
    journals: dict[str, int]  # journal copy -> its last entry's seq
    notes: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()  # older backups deleted by retention

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files)


@dataclass
class _Work:
    root: Path
    files: list[FileEntry] = field(default_factory=list)
    journals: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def take_backup(
    data_dir: Path,
    root: Path,
    *,
    keep: int = 7,
    rate_mb: float = 60.0,
    store_uri: str = "",
    config_file: Path | None = None,
    progress: Callable[[str], None] = lambda _: None,
    now: Callable[[], datetime] = datetime.now,
) -> BackupResult:
    """Back up ``data_dir`` into a new folder under ``root``; :class:`BackupError` on
    any failure, with nothing left behind but what was there before."""
    started = time.perf_counter()
    _check_target(data_dir, root)
    try:
        folder(root, "the backup folder")
    except PathError as exc:
        raise BackupError(str(exc)) from None
    final = _new_name(root, now())
    work = _Work(final.with_name(final.name + PARTIAL))
    try:
        work.root.mkdir(mode=0o700)
        (work.root / PARTIAL_MARK).write_text(f"{os.getpid()}\n", encoding="utf-8")
        for src in _sqlite_files(data_dir):
            rel = src.relative_to(data_dir)
            progress(f"journal {rel}" if src.name != "backtests.db" else f"saved runs {rel}")
            _copy_sqlite(src, work, Path("data") / rel)
        for name in PLAIN:
            if (data_dir / name).is_file():
                _copy_file(data_dir / name, work, Path("data") / name, "file")
        if config_file is not None and config_file.is_file():
            _copy_file(config_file, work, Path("config") / "config.toml", "config")
        _copy_store(store_uri or f"lmdb://{data_dir / 'arctic'}", work, progress, rate_mb)
        manifest = {
            "format": FORMAT,
            "created": now().isoformat(timespec="seconds"),
            "data_dir": str(data_dir),
            "store": store_uri or "embedded",
            "journals": work.journals,
            "notes": work.notes,
            "files": [asdict(f) for f in work.files],
        }
        _write_synced(work.root / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False))
        (work.root / PARTIAL_MARK).unlink()
        work.root.rename(final)
    except OSError as exc:
        shutil.rmtree(work.root, ignore_errors=True)
        why = "the disk is full" if exc.errno == 28 else exc.strerror or str(exc)
        raise BackupError(
            f"backup to {root} failed: {why} ({exc.filename or ''}); the partial copy was "
            "removed: free space or pick another folder ([backup] dir, --to)"
        ) from None
    except BackupError:
        shutil.rmtree(work.root, ignore_errors=True)
        raise
    removed = prune(root, keep, protect=final)
    return BackupResult(
        final,
        tuple(work.files),
        time.perf_counter() - started,
        dict(work.journals),
        tuple(work.notes),
        tuple(removed),
    )


def _new_name(root: Path, at: datetime) -> Path:
    base = root / f"{PREFIX}{at:%Y%m%d-%H%M%S}"
    path, n = base, 1
    while path.exists() or path.with_name(path.name + PARTIAL).exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def _check_target(data_dir: Path, root: Path) -> None:
    """A backup goes outside the data directory (or into its own ``backups`` folder, the
    default, which is never copied): inside, it would copy itself or miss the journals."""
    home, there = data_dir.resolve(), root.expanduser().resolve()
    if there.is_relative_to(home) and there != home / "backups":
        raise BackupError(
            f"the backup folder {root} is inside the data directory {data_dir}: pick a folder "
            f"outside it (another disk is safer), or leave --to and [backup] dir out for "
            f"{data_dir / 'backups'}"
        )


def _sqlite_files(data_dir: Path) -> list[Path]:
    """Every journal, the saved runs and the alert outbox, not those inside the data
    directory's own backups folder (earlier backups)."""
    found = []
    backups = data_dir / "backups"
    for name in SQLITE_NAMES:
        for path in data_dir.rglob(name):
            if not path.is_relative_to(backups):
                found.append(path)
    return sorted(found)


def _copy_sqlite(src: Path, work: _Work, rel: Path) -> None:
    """SQLite's online backup of ``src`` (one consistent snapshot), checked."""
    dst = work.root / rel
    dst.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        source = sqlite3.connect(src, timeout=30)
        try:
            target = sqlite3.connect(dst)
            try:
                # One step (pages=-1): one read snapshot for the whole copy, the GIL released.
                # In steps, every commit by the journal's own connection would restart the
                # copy: under steady trading it never finished.
                source.backup(target, pages=-1)
                check = target.execute("PRAGMA integrity_check").fetchone()[0]
                if check != "ok":
                    raise BackupError(f"the copy of {src} fails SQLite's integrity check: {check}")
                has_entries = target.execute(
                    "SELECT 1 FROM sqlite_master WHERE type='table' AND name='entries'"
                ).fetchone()
                if has_entries:
                    seq = target.execute("SELECT COALESCE(MAX(seq), 0) FROM entries").fetchone()
                    work.journals[rel.as_posix()] = int(seq[0])
                target.execute("PRAGMA journal_mode=DELETE")  # one file: no -wal beside it
            finally:
                target.close()
        finally:
            source.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"cannot back up {src}: {exc}") from None
    fsync_path(dst)
    work.files.append(FileEntry(rel.as_posix(), "sqlite", dst.stat().st_size, sha256(dst)))


def _copy_file(src: Path, work: _Work, rel: Path, kind: str) -> None:
    dst = work.root / rel
    dst.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.copyfile(src, dst)
    fsync_path(dst)
    work.files.append(FileEntry(rel.as_posix(), kind, dst.stat().st_size, sha256(dst)))


def _copy_store(uri: str, work: _Work, progress: Callable[[str], None], rate_mb: float) -> None:
    """Each LMDB library of the store, copied by a child process; another backend's
    store is not copied (it lives elsewhere: back it up there), and that is noted."""
    if not uri.startswith("lmdb://"):
        work.notes.append(f"the store {uri} is not on LMDB: not copied; back it up where it lives")
        return
    folder = Path(uri.removeprefix("lmdb://").split("?")[0])
    libraries = (
        sorted(p for p in folder.iterdir() if (p / "data.mdb").is_file())
        if (folder.is_dir())
        else []
    )
    if not libraries:
        work.notes.append(f"no store at {folder} yet: nothing to copy")
        return
    for lib in libraries:
        progress(f"store {lib.name}")
        rel = Path("store") / lib.name
        done = subprocess.run(
            [*COPIER, str(lib), str(work.root / rel), "--rate-mb", str(rate_mb)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            why = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no reason"
            if "No space left" in why:
                raise OSError(28, "No space left on device", str(work.root / rel))
            raise BackupError(f"cannot copy the store library {lib}: {why}")
        copied = json.loads(done.stdout)  # written, synced and hashed on the way
        work.files.append(
            FileEntry((rel / "data.mdb").as_posix(), "lmdb", copied["bytes"], copied["sha256"])
        )


def _write_synced(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    fsync_path(path.parent)  # the folder's entry too, where the system allows


def backup_job(
    data_dir: Path, config: BackupConfig, store_uri: str, config_file: Path | None
) -> JobBody:
    """The nightly ``backup`` job's body: a backup, its size and where; failed with why."""

    def run(progress: Callable[[int, int, str], None]) -> JobResult:
        step = iter(range(1, 10_000))
        try:
            result = take_backup(
                data_dir,
                config.root(data_dir),
                keep=config.keep,
                rate_mb=config.rate_mb,
                store_uri=store_uri,
                config_file=config_file,
                progress=lambda what: progress(next(step), 0, what),
            )
        except BackupError as exc:
            return "failed", str(exc)
        kept = f"; removed {len(result.removed)} older" if result.removed else ""
        return "ok", (
            f"{result.path.name}: {len(result.files)} files, {result.bytes / 1e6:,.1f} MB in "
            f"{result.seconds:.1f} s{kept}"
        )

    return run
