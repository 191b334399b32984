"""A backup's manifest: what makes a folder a quantdesk backup, and where each file goes.

A backup is recognised by its ``manifest.json`` (format, creation time, files), never by
its name: retention removes only folders quantdesk wrote, newest kept by the manifest's
time, so a user's own ``quantdesk-notes/`` beside the backups is never touched.

A manifest comes from a folder that anyone may have altered, so every path in it is
checked before anything is read or written: relative, no ``..``, one of the backup's
parts (``data/``, ``store/``, ``config/``), listed once, one target per file, never a
link; and the target is resolved inside the data directory at the moment it is written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

MANIFEST = "manifest.json"
PREFIX = "quantdesk-"
PARTIAL = ".partial"
PARTIAL_MARK = ".quantdesk-backup-in-progress"  # inside a .partial folder quantdesk is writing
FORMAT = 1
KINDS = ("sqlite", "lmdb", "config", "file")
# Never restored over: the lock the restore holds, the logs that stay where they are.
KEEP_IN_PLACE = ("quantdesk.lock", "logs")


class BackupError(RuntimeError):
    """A backup or restore could not be done; the message says what and what to do."""


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to the backup: data/..., store/<library>/..., config/...
    kind: str  # sqlite, lmdb, config, file
    bytes: int
    sha256: str


@dataclass(frozen=True)
class Backup:
    """A complete backup found under a root, with its manifest's time."""

    path: Path
    created: datetime


def read_manifest(backup: Path) -> dict[str, Any]:
    """The manifest of ``backup``; :class:`BackupError` if it has none or it is unreadable."""
    path = backup / MANIFEST
    try:
        if path.is_symlink():
            raise BackupError(f"{path} is a link: not a quantdesk backup")
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(
            f"{backup} has no {MANIFEST}: not a quantdesk backup, or an unfinished one"
        ) from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"{path} cannot be read: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise BackupError(f"{path} is not a quantdesk manifest (no list of files)")
    return manifest


def created_at(manifest: dict[str, Any]) -> datetime | None:
    """When the backup was made, from its manifest; None if it does not say."""
    try:
        return datetime.fromisoformat(str(manifest["created"])).replace(tzinfo=None)
    except (KeyError, ValueError):
        return None


def list_backups(root: Path) -> list[Backup]:
    """The complete quantdesk backups directly under ``root``, oldest first by their
    manifest's time: a folder without a readable quantdesk manifest is not one."""
    if not root.is_dir():
        return []
    found = []
    for path in root.iterdir():
        if path.is_symlink() or not path.is_dir() or path.name.endswith(PARTIAL):
            continue
        try:
            manifest = read_manifest(path)
        except BackupError:
            continue
        when = created_at(manifest)
        if manifest.get("format") == FORMAT and when is not None:
            found.append(Backup(path, when))
    return sorted(found, key=lambda b: (b.created, b.path.name))


def prune(root: Path, keep: int, protect: Path | None = None) -> list[str]:
    """Delete all but the newest ``keep`` backups (never ``protect``, the one just made),
    and partial ones a crash left (older than an hour: a running backup's is younger,
    and only folders holding quantdesk's in-progress mark); the names deleted."""
    backups = [b.path for b in list_backups(root)]
    keep_set = set(backups[-keep:]) | ({protect} if protect is not None else set())
    gone = [p for p in backups if p not in keep_set]
    cutoff = time.time() - 3600
    for path in root.iterdir() if root.is_dir() else ():
        mark = path / PARTIAL_MARK
        with contextlib.suppress(OSError):
            if path.name.endswith(PARTIAL) and mark.is_file() and mark.stat().st_mtime < cutoff:
                gone.append(path)
    for path in gone:
        shutil.rmtree(path, ignore_errors=True)
    return [p.name for p in gone]


def entries(manifest: dict[str, Any]) -> tuple[list[FileEntry], list[str]]:
    """The manifest's files and every problem with their paths (see the module's doc)."""
    files, problems = [], []
    targets: dict[PurePosixPath, str] = {}
    seen: set[str] = set()
    for raw in manifest["files"]:
        try:
            f = FileEntry(**raw)
            if not isinstance(f.path, str) or not isinstance(f.bytes, int):
                raise TypeError("path must be text and bytes a number")
        except TypeError as exc:
            problems.append(f"a manifest entry cannot be read ({exc}): {raw!r:.120}")
            continue
        why = _bad_path(f)
        if why:
            problems.append(f"{f.path}: {why}: refused")
            continue
        if f.path in seen:
            problems.append(f"{f.path}: listed twice in the manifest: refused")
            continue
        seen.add(f.path)
        target = target_of(f)
        if target in targets:
            problems.append(f"{f.path}: restores to {target}, as {targets[target]} does: refused")
            continue
        targets[target] = f.path
        files.append(f)
    return files, problems


def _bad_path(f: FileEntry) -> str:
    """Why a manifest path is not one quantdesk writes, or ""."""
    if f.kind not in KINDS:
        return f"unknown kind {f.kind!r}"
    path = PurePosixPath(f.path)
    if "\\" in f.path or "\x00" in f.path or path.is_absolute():
        return "not a relative path"
    if any(part in ("..", ".", "") for part in f.path.split("/")):
        return "a path that leaves its folder"
    if len(path.parts) < 2 or path.parts[0] not in ("data", "store", "config"):
        return "not a part of a quantdesk backup (data/, store/, config/)"
    if path.parts[0] == "data" and path.parts[1] in KEEP_IN_PLACE:
        return "the lock and the logs are never restored"
    return ""


def target_of(f: FileEntry) -> PurePosixPath:
    """Where a backed-up file goes, relative to the data directory: data/x -> x,
    store/lib/f -> arctic/lib/f, config/... -> config.toml (paths checked first)."""
    parts = PurePosixPath(f.path).parts
    if parts[0] == "data":
        return PurePosixPath(*parts[1:])
    if parts[0] == "store":
        return PurePosixPath("arctic", *parts[1:])
    return PurePosixPath("config.toml")


def confined(data_dir: Path, rel: PurePosixPath) -> Path:
    """``data_dir / rel``, resolved (links followed) and required inside ``data_dir``."""
    root = data_dir.resolve()
    target = (root / rel).resolve()
    if not target.is_relative_to(root) or target == root:
        raise BackupError(f"{rel} would be written at {target}, outside {root}: refused")
    return target


def verify(backup: Path) -> tuple[dict[str, Any], list[str]]:
    """The manifest and every problem found: a missing, altered, unlisted or linked
    file, or a path that would leave the data directory (nothing is trusted)."""
    try:
        manifest = read_manifest(backup)
    except BackupError as exc:
        return {}, [str(exc)]
    if manifest.get("format") != FORMAT:
        return manifest, [
            f"backup format {manifest.get('format')!r}; this quantdesk reads {FORMAT}"
        ]
    files, problems = entries(manifest)
    for f in files:
        path = backup / f.path
        if _linked(backup, PurePosixPath(f.path)):
            problems.append(f"{f.path}: a link, not a file: refused")
        elif not path.is_file():
            problems.append(f"{f.path}: missing")
        elif path.stat().st_size != f.bytes:
            problems.append(
                f"{f.path}: {path.stat().st_size:,} bytes, the manifest says {f.bytes:,}"
            )
        elif sha256(path) != f.sha256:
            problems.append(f"{f.path}: its checksum differs from the manifest's (altered)")
    listed = {f.path for f in files} | {str(raw.get("path")) for raw in manifest["files"]}
    for path in sorted(backup.rglob("*")):
        rel = path.relative_to(backup).as_posix()
        if path.is_symlink() and rel not in listed:
            problems.append(f"{rel}: a link: refused")
        elif path.is_file() and rel not in listed | {MANIFEST}:
            problems.append(f"{rel}: not in the manifest")
    return manifest, problems


def _linked(backup: Path, rel: PurePosixPath) -> bool:
    """Whether ``rel`` or any folder on its way inside ``backup`` is a symbolic link."""
    path = backup
    for part in rel.parts:
        path = path / part
        if path.is_symlink():
            return True
    return False


def sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
