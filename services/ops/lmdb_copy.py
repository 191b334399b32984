"""Copy one LMDB environment consistently:
``python -m services.ops.lmdb_copy SRC DST [--rate-mb N]``.

Run as its own process by the backup: an LMDB path must never be opened twice in
one process, and the console (or the backup's caller) may have the store open.
LMDB's copy reads one snapshot of the environment (its MVCC read transaction), so a
copy taken while the store is written is the store as of one moment; ``compact``
leaves out free pages.

The copy streams through a pipe and is written here at no more than ``--rate-mb``
MB/s, flushed to disk every few MB: a gigabyte dumped into the page cache at once
makes the kernel throttle *every* writer -- the journal of the trading process
among them -- for as long as it takes to write it back. The SHA-256 is computed on
the way. Prints ``{"bytes": N, "sha256": "..."}``; exit 1 with the reason on failure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import threading
import time
from pathlib import Path

from services.ops.background import background

CHUNK = 1 << 20  # read from LMDB's pipe in 1 MB pieces
SYNC_EVERY = 8 << 20  # flush to disk every 8 MB: dirty pages stay few


def copy_env(src: Path, dst: Path, rate_mb: float) -> tuple[int, str]:
    """Copy the environment in folder ``src`` to ``dst``/data.mdb; its size and SHA-256."""
    import lmdb

    dst.mkdir(parents=True, exist_ok=False)
    env = lmdb.open(str(src), readonly=True, lock=True, max_dbs=0, subdir=True)
    read_fd, write_fd = os.pipe()
    failed: list[BaseException] = []

    def produce() -> None:
        try:
            env.copyfd(write_fd, compact=True)
        except BaseException as exc:  # reported by the reader's side
            failed.append(exc)
        finally:
            os.close(write_fd)

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    digest = hashlib.sha256()
    size = unsynced = 0
    started = time.monotonic()
    out = os.open(dst / "data.mdb", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        while chunk := os.read(read_fd, CHUNK):
            view = memoryview(chunk)
            while view:
                view = view[os.write(out, view) :]
            digest.update(chunk)
            size += len(chunk)
            unsynced += len(chunk)
            if unsynced >= SYNC_EVERY:
                os.fdatasync(out)
                unsynced = 0
            if rate_mb > 0:  # ahead of the allowed rate: wait until it catches up
                ahead = size / (rate_mb * 1e6) - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
        os.fsync(out)
    finally:
        os.close(out)
        os.close(read_fd)
        producer.join()
        env.close()
    if failed:
        raise failed[0]
    return size, digest.hexdigest()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.ops.lmdb_copy")
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    parser.add_argument("--rate-mb", type=float, default=0.0, help="MB/s at most (0: no limit)")
    args = parser.parse_args(argv)
    background()  # the trading process's threads take a CPU from the copy at once
    try:
        size, sha = copy_env(args.src, args.dst, args.rate_mb)
    except Exception as exc:  # the parent reports it with the library's name
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"bytes": size, "sha256": sha}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
