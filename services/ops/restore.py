"""Restore a backup (services/ops/backup.py) into a data directory.

Every checksum and every path of the manifest is verified before anything is written
(services/ops/manifest.py: nothing may land outside the data directory). A data
directory that already holds a journal or a store is never overwritten silently:
``force`` moves its current contents aside (``<dir>.before-restore-<time>``), it
deletes nothing. A data directory in use by a running quantdesk is refused.

A restore cut short (killed, a full disk) must not look like a whole account: the
mark ``RESTORE-UNFINISHED`` is written (and synced) before the first file and removed
after the last one is on disk, and every command refuses a data directory that holds
it (:func:`services.ops.datadir.check_usable`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from services.ops.datadir import RESTORE_MARK, DataDirBusy, DataDirLock, fsync_path
from services.ops.manifest import KEEP_IN_PLACE, BackupError, confined, entries, target_of, verify


@dataclass(frozen=True)
class RestoreResult:
    data_dir: Path
    files: int
    bytes: int
    journals: dict[str, int]
    moved_aside: Path | None = None
    notes: tuple[str, ...] = ()


def restore_backup(
    backup: Path,
    data_dir: Path,
    *,
    force: bool = False,
    progress: Callable[[str], None] = lambda _: None,
    now: Callable[[], datetime] = datetime.now,
) -> RestoreResult:
    """Verify ``backup``, then write it into ``data_dir``; :class:`BackupError` if the
    backup is damaged, the directory is in use, or it holds data and ``force`` is off."""
    manifest, problems = verify(backup)
    if problems:
        shown = "; ".join(problems[:5]) + (
            f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        )
        raise BackupError(f"{backup} fails verification, nothing was restored: {shown}")
    files, _ = entries(manifest)
    try:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = DataDirLock(data_dir).acquire()
    except DataDirBusy as exc:
        raise BackupError(f"{exc}: stop it before restoring into {data_dir}") from None
    except OSError as exc:
        raise BackupError(f"cannot use {data_dir} for the restore: {exc.strerror}") from None
    try:
        moved = _clear(data_dir, force, now)
        _mark(data_dir, backup, now)
        for f in files:
            target = confined(data_dir, target_of(f))
            progress(f"restoring {f.path}")
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            confined(data_dir, target_of(f))  # a folder made on the way is no link out
            partial = target.with_name(target.name + ".restoring")
            shutil.copyfile(backup / f.path, partial)
            fsync_path(partial)
            os.replace(partial, target)
        fsync_path(data_dir)
        (data_dir / RESTORE_MARK).unlink()
        fsync_path(data_dir)
        notes = []
        if manifest.get("store") not in ("embedded", None):
            notes.append(
                f"the store was {manifest['store']}; its LMDB copy is now at "
                f"{data_dir / 'arctic'}: point [store] uri there, or remove it to use it"
            )
        if any(f.kind == "config" for f in files):
            notes.append(
                f"the config is at {data_dir / 'config.toml'} (read from there by default)"
            )
        return RestoreResult(
            data_dir,
            len(files),
            sum(f.bytes for f in files),
            dict(manifest.get("journals", {})),
            moved,
            tuple(notes + [str(n) for n in manifest.get("notes", [])]),
        )
    except OSError as exc:
        raise BackupError(
            f"restore into {data_dir} failed: {exc.strerror or exc} ({exc.filename or ''}); "
            f"it is marked unfinished ({data_dir / RESTORE_MARK}) and every command refuses "
            "it: free the space and run the restore again with --force"
        ) from None
    finally:
        lock.release()


def _clear(data_dir: Path, force: bool, now: Callable[[], datetime]) -> Path | None:
    """Make ``data_dir`` empty but for the lock and logs: refuse, or with ``force`` move
    what is there aside (an unfinished restore included); where it went, or None."""
    present = [p for p in data_dir.iterdir() if p.name not in KEEP_IN_PLACE]
    if not present:
        return None
    if not force:
        unfinished = " (an unfinished restore)" if (data_dir / RESTORE_MARK).exists() else ""
        raise BackupError(
            f"{data_dir} is not empty{unfinished} "
            f"({', '.join(sorted(p.name for p in present)[:4])}): restore into a new "
            "directory, or add --force to move what is there aside first (nothing is deleted)"
        )
    moved = data_dir.with_name(f"{data_dir.name}.before-restore-{now():%Y%m%d-%H%M%S}")
    moved.mkdir(mode=0o700)
    for path in present:
        path.rename(moved / path.name)
    return moved


def _mark(data_dir: Path, backup: Path, now: Callable[[], datetime]) -> None:
    """The unfinished mark, on disk before the first restored file."""
    mark = data_dir / RESTORE_MARK
    tmp = mark.with_name(mark.name + ".new")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(f"restore of {backup.resolve()} started {now():%Y-%m-%d %H:%M:%S}\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, mark)
    fsync_path(data_dir)
