"""File and folder arguments checked before anything is written, and said in words.

Every path a command is given to write -- a report, an export, a backup folder, the data
directory -- can be a folder where a file is wanted (or the reverse), sit under a parent
that is a file, be missing its parent, or be on a disk that cannot be written. Each case
is one line naming the path and what to do, never a traceback; a missing parent folder
is made (as ``mkdir -p``).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EACCES: "permission denied",
    errno.EPERM: "not permitted",
    errno.EROFS: "the file system is read-only",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "it is a folder, not a file",
    errno.ENOENT: "a folder on the way does not exist",
    errno.EEXIST: "it exists and is a file, not a folder",
    errno.ENAMETOOLONG: "the name is too long",
}


class PathError(ValueError):
    """A path that cannot be used as asked; the message names it and says what to do."""


def reason(exc: OSError) -> str:
    """What went wrong, in words (the system's own words when there are none here)."""
    return REASONS.get(exc.errno or 0, exc.strerror or str(exc))


def _file_on_the_way(path: Path) -> Path | None:
    """The first existing ancestor of ``path`` that is a file, not a folder (or None)."""
    for parent in (path, *path.parents):
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def output_file(path: Path, what: str = "the output file") -> Path:
    """``path`` ready to be written as a file (its folder made if missing), or PathError."""
    if path.is_dir():
        raise PathError(f"{what} {path} is a folder: give a file name in it, e.g. {path / 'out'}")
    blocker = _file_on_the_way(path.parent)
    if blocker is not None:
        raise PathError(f"{what} {path}: {blocker} is a file, not a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PathError(f"cannot make the folder {path.parent} for {what}: {reason(exc)}") from None
    if not os.access(path.parent, os.W_OK):
        raise PathError(f"cannot write {what} {path}: its folder is not writable")
    return path


def folder(path: Path, what: str = "the folder", make: bool = True) -> Path:
    """``path`` as a folder that exists (made if ``make``), or PathError."""
    if path.exists() and not path.is_dir():
        raise PathError(f"{what} {path} is a file, not a folder")
    blocker = _file_on_the_way(path)
    if blocker is not None:
        raise PathError(f"{what} {path}: {blocker} is a file, not a folder")
    if make:
        try:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise PathError(f"cannot make {what} {path}: {reason(exc)}") from None
    return path


def write_error(path: Path, exc: OSError, what: str = "the file") -> PathError:
    """The error for a write to ``path`` that failed midway (a full disk, say)."""
    return PathError(f"cannot write {what} {path}: {reason(exc)}; nothing was left there")
