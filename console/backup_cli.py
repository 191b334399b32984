"""``quantdesk backup`` and ``quantdesk restore``: copies of what cannot be fetched again.

Exit status: 0 done; 1 the backup or restore failed (the message says why; nothing
half-written is left); 2 bad usage; 3 ``restore --check`` found a damaged backup.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from console.config import Config
from console.data_cli import locations

EXIT_FAILED, EXIT_USAGE, EXIT_DAMAGED = 1, 2, 3


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = sub.add_parser(
        "backup",
        parents=[locations()],
        help="back up the journals, saved runs, store, config and watchlist (safe while "
        "the console trades)",
    )
    backup.add_argument("--to", type=Path, metavar="DIR", help="where (default: [backup] dir)")
    backup.add_argument(
        "--keep", type=int, metavar="N", help="backups kept (default: [backup] keep)"
    )
    backup.add_argument("--list", action="store_true", help="list the backups there instead")
    backup.add_argument("--json", action="store_true", help="one JSON document")
    restore = sub.add_parser(
        "restore",
        parents=[locations()],
        help="verify a backup, then restore it into --data-dir (a new directory, or --force)",
    )
    restore.add_argument("backup", type=Path, metavar="BACKUP", help="a backup's folder")
    restore.add_argument("--check", action="store_true", help="verify only; write nothing")
    restore.add_argument(
        "--force",
        action="store_true",
        help="restore into a data directory that holds data: it is moved aside first",
    )


def run_backup(args: argparse.Namespace, data_dir: Path, config: Config) -> int:
    from services.ops.backup import take_backup
    from services.ops.manifest import BackupError, list_backups

    root = args.to or config.backup.root(data_dir)
    keep = config.backup.keep if args.keep is None else args.keep
    if keep < 1:
        print("quantdesk: --keep must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    if args.list:
        for found in list_backups(root):
            print(found.path)
        return 0

    def progress(what: str) -> None:
        if not args.json:
            print(f"  {what}", file=sys.stderr, flush=True)

    try:
        result = take_backup(
            data_dir,
            root,
            keep=keep,
            rate_mb=config.backup.rate_mb,
            store_uri=config.store.uri,
            config_file=config.file,
            progress=progress,
        )
    except BackupError as exc:
        print(f"quantdesk: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        out = {**asdict(result), "path": str(result.path), "bytes": result.bytes}
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    print(
        f"backup {result.path}: {len(result.files)} files, {result.bytes / 1e6:,.1f} MB in "
        f"{result.seconds:.1f} s, every file checksummed in manifest.json"
    )
    for journal, seq in result.journals.items():
        print(f"  {journal}: up to entry {seq:,}")
    for note in result.notes:
        print(f"  note: {note}")
    if result.removed:
        print(
            f"  removed {len(result.removed)} older (keeping {keep}): {', '.join(result.removed)}"
        )
    return 0


def run_restore(args: argparse.Namespace, data_dir: Path) -> int:
    from services.ops.manifest import BackupError, verify
    from services.ops.restore import restore_backup

    if args.check:
        manifest, problems = verify(args.backup)
        for problem in problems:
            print(f"DAMAGED {problem}")
        if problems:
            return EXIT_DAMAGED
        print(f"{args.backup}: {len(manifest['files'])} files, every checksum matches")
        return 0
    try:
        result = restore_backup(
            args.backup,
            data_dir,
            force=args.force,
            progress=lambda what: print(f"  {what}", file=sys.stderr, flush=True),
        )
    except BackupError as exc:
        print(f"quantdesk: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"restored {result.files} files ({result.bytes / 1e6:,.1f} MB) into {result.data_dir}")
    if result.moved_aside is not None:
        print(f"  what was there is in {result.moved_aside}")
    for note in result.notes:
        print(f"  note: {note}")
    return 0
