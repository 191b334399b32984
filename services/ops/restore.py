"""Restore a backup (services/ops/backup.py) into a data directory.

Every checksum is verified before anything is written. A data directory that
already holds a journal or a store is never overwritten silently: ``force`` moves
its current contents aside (``<dir>.before-restore-<time>``), it deletes nothing.
A data directory in use by a running quantdesk is refused.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from services.ops.backup import BackupError, FileEntry, verify
from services.ops.datadir import DataDirBusy, DataDirLock

KEEP_IN_PLACE = ("quantdesk.lock", "logs")  # the lock we hold; the logs stay where they are


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
    files = [FileEntry(**f) for f in manifest["files"]]
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        lock = DataDirLock(data_dir).acquire()
    except DataDirBusy as exc:
        raise BackupError(f"{exc}: stop it before restoring into {data_dir}") from None
    try:
        moved = None
        present = [p for p in data_dir.iterdir() if p.name not in KEEP_IN_PLACE]
        if present and not force:
            raise BackupError(
                f"{data_dir} is not empty ({', '.join(sorted(p.name for p in present)[:4])}): "
                "restore into a new directory, or add --force to move what is there aside "
                "first (nothing is deleted)"
            )
        if present:
            moved = data_dir.with_name(f"{data_dir.name}.before-restore-{now():%Y%m%d-%H%M%S}")
            moved.mkdir(mode=0o700)
            for path in present:
                path.rename(moved / path.name)
        notes = []
        for f in files:
            target = _target(data_dir, f)
            progress(f"restoring {f.path}")
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            partial = target.with_name(target.name + ".restoring")
            shutil.copyfile(backup / f.path, partial)
            os.replace(partial, target)
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
            tuple(notes + list(manifest.get("notes", []))),
        )
    except OSError as exc:
        raise BackupError(
            f"restore into {data_dir} failed: {exc.strerror or exc} ({exc.filename or ''})"
        ) from None
    finally:
        lock.release()


def _target(data_dir: Path, f: FileEntry) -> Path:
    """Where a backed-up file goes: data/x -> x, store/lib/f -> arctic/lib/f, config."""
    parts = Path(f.path).parts
    if parts[0] == "data":
        return data_dir.joinpath(*parts[1:])
    if parts[0] == "store":
        return data_dir.joinpath("arctic", *parts[1:])
    if parts[0] == "config":
        return data_dir / "config.toml"
    raise BackupError(f"{f.path}: not a part of a quantdesk backup")
