"""The data directory: one owner at a time, private permissions.

Two instances on one data directory would both trade on one journal (order and
trade ids issued twice, positions doubled). Every process that writes the
journal -- the console, ``--headless``, ``halt`` with nothing running -- first
takes an exclusive ``flock`` on ``<data dir>/quantdesk.lock`` and keeps it until
it exits; the kernel drops it when the process dies, so a SIGKILL leaves no
stale lock behind. Commands that only read (``state``, ``journal export``) take
no lock and work beside a running instance, or on a read-only copy.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("quantdesk.datadir")

LOCK_NAME = "quantdesk.lock"
RESTORE_MARK = "RESTORE-UNFINISHED"  # written by a restore before its first file (restore.py)


class DataDirUnusable(RuntimeError):
    """The data directory must not be used as it is (an unfinished restore)."""


def check_usable(data_dir: Path) -> None:
    """Refuse a data directory that a restore left half-written: its journal may have
    landed without its store, which would pass for a whole account."""
    mark = data_dir / RESTORE_MARK
    if not mark.exists():
        return
    try:
        what = mark.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        what = "a restore"
    raise DataDirUnusable(
        f"{data_dir} holds an unfinished restore ({what}): its files may be half "
        "written. Run the restore again with --force (what is there is moved aside), "
        "or restore into another directory"
    )


def fsync_path(path: Path) -> None:
    """Flush a file's (or a folder's entries') contents to disk, where the system allows."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        if not path.is_dir():
            raise
    finally:
        os.close(fd)


class DataDirBusy(RuntimeError):
    """Another process owns the data directory."""

    def __init__(self, data_dir: Path, pid: int | None) -> None:
        who = f"pid {pid}" if pid else "another process"
        super().__init__(
            f"quantdesk is already running on {data_dir} ({who}). Only one instance may trade "
            "on a data directory: use `quantdesk halt` or `quantdesk state` beside it, stop it "
            "first, or start this one with another --data-dir"
        )
        self.pid = pid


class DataDirLock:
    """An exclusive lock on a data directory, held until :meth:`release` or exit."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> DataDirLock:
        """Take the lock or raise :class:`DataDirBusy` naming the holder's pid.

        OSError (read-only directory, permissions) propagates: the caller says what.
        """
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise DataDirBusy(self.data_dir, pid) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> DataDirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder(data_dir: Path) -> int | None:
    """The pid holding ``data_dir``'s lock, or None when no process holds it."""
    path = data_dir / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(fd) or -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


def make_private(data_dir: Path) -> None:
    """Create ``data_dir`` as 0700 and tighten everything under it to owner-only: folders
    0700, files 0600 (links are not followed).

    New files are private through the process umask (set by the CLI); this also
    tightens what an earlier version, a notebook's umask or a hand-made copy left loose
    (``logs/`` 0755, ``quantdesk.log`` 0644). Best effort: a read-only copy (an
    auditor's) is left as it is.
    """
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    uid = os.getuid()
    _tighten(data_dir, uid)
    for root, dirs, files in os.walk(data_dir):
        for name in dirs + files:
            _tighten(Path(root) / name, uid)


def _tighten(path: Path, uid: int) -> None:
    try:
        st = path.lstat()
    except OSError:
        return
    if stat.S_ISLNK(st.st_mode) or st.st_uid != uid or not st.st_mode & 0o077:
        return
    mode = 0o700 if stat.S_ISDIR(st.st_mode) else 0o600
    try:
        path.chmod(mode)
        log.info("permissions of %s tightened to %o", path, mode)
    except OSError:
        pass


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "quantdesk"


def resolve_data_dir(cli_value: str | None) -> Path:
    raw = cli_value or os.environ.get("QUANTDESK_DATA_DIR")
    return Path(raw).expanduser() if raw else default_data_dir()
