"""Backups and restores that a clumsy or hostile hand cannot turn into a loss: retention
removes only what quantdesk wrote, a backup never lands inside what it copies, a restore
never writes outside its data directory, and one cut short is refused until redone."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from console.cli import main
from services.ops.backup import take_backup
from services.ops.datadir import RESTORE_MARK
from services.ops.manifest import BackupError, list_backups, verify
from services.ops.restore import restore_backup
from tests.conftest import copy_data_dir


@pytest.fixture
def data_dir(tmp_path: Path, demo_store: Path) -> Path:
    data = copy_data_dir(demo_store, tmp_path / "data")
    (data / "watchlist.json").write_text('["600519.SSE"]', encoding="utf-8")
    return data


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_retention_removes_only_backups_quantdesk_wrote(data_dir: Path, tmp_path: Path) -> None:
    """A user's own folders named like backups survive, and the backup just written is
    kept even when its name sorts before theirs."""
    root = tmp_path / "b"
    (root / "quantdesk-1.0").mkdir(parents=True)
    (root / "quantdesk-1.0" / "mine.txt").write_text("the user's")
    (root / "quantdesk-notes").mkdir()
    (root / "quantdesk-zz.partial").mkdir()  # not ours either: no in-progress mark
    result = take_backup(data_dir, root, keep=1)
    assert result.removed == ()
    assert sorted(p.name for p in root.iterdir()) == sorted(
        ["quantdesk-1.0", "quantdesk-notes", "quantdesk-zz.partial", result.path.name]
    )
    assert (root / "quantdesk-1.0" / "mine.txt").read_text() == "the user's"
    assert [b.path for b in list_backups(root)] == [result.path]


def test_the_newest_are_kept_by_the_manifests_time_not_the_name(
    data_dir: Path, tmp_path: Path
) -> None:
    root = tmp_path / "b"
    at = datetime(2026, 11, 20, 18)
    made = [
        take_backup(data_dir, root, keep=5, now=lambda d=d: at + timedelta(days=d)).path
        for d in range(3)
    ]
    # The oldest renamed so its name sorts last: its manifest still says it is the oldest.
    renamed = made[0].rename(root / "quantdesk-99999999-999999")
    newest = take_backup(data_dir, root, keep=2, now=lambda: at + timedelta(days=3))
    assert sorted(newest.removed) == sorted([renamed.name, made[1].name])
    assert [b.path for b in list_backups(root)] == [made[2], newest.path]


def test_a_partial_backup_is_pruned_only_with_quantdesks_mark(
    data_dir: Path, tmp_path: Path
) -> None:
    root = tmp_path / "b"
    crashed = root / "quantdesk-20260101-000000.partial"
    crashed.mkdir(parents=True)
    (crashed / ".quantdesk-backup-in-progress").write_text("123\n")
    old = datetime(2026, 1, 1).timestamp()
    import os

    os.utime(crashed / ".quantdesk-backup-in-progress", (old, old))
    take_backup(data_dir, root, keep=3)
    assert not crashed.exists()


@pytest.mark.parametrize("where", [".", "arctic", "accounts/x"])
def test_a_backup_inside_the_data_directory_is_refused(
    data_dir: Path, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _cli(
        capsys, "backup", "--data-dir", str(data_dir), "--to", str(data_dir / where)
    )
    assert code == 1
    assert "is inside the data directory" in err and "Traceback" not in err
    assert not any(data_dir.rglob("manifest.json"))


def test_a_backup_beside_the_data_directory_holds_its_journals(tmp_path: Path) -> None:
    """--to a folder that contains the data directory: the journals are copied."""
    data = tmp_path / "dd"
    from services.records.journal import Journal

    Journal(data / "journal.sqlite3").close()
    result = take_backup(data, tmp_path)  # the data directory's parent
    assert "data/journal.sqlite3" in {f.path for f in result.files}
    default = take_backup(data, data / "backups")  # the default, inside: allowed
    assert "data/journal.sqlite3" in {f.path for f in default.files}


def _forge(backup: Path, files: list[dict[str, object]]) -> None:
    manifest = json.loads((backup / "manifest.json").read_text())
    manifest["files"] += files
    (backup / "manifest.json").write_text(json.dumps(manifest))


def _entry(backup: Path, rel: str, kind: str = "file") -> dict[str, object]:
    data = (backup / rel).read_bytes()
    return {
        "path": rel,
        "kind": kind,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def test_a_manifest_path_that_leaves_the_data_directory_is_refused(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup = take_backup(data_dir, tmp_path / "b").path
    (backup / "escaped").mkdir()
    (backup / "escaped" / "payload").write_text("owned")
    _forge(backup, [_entry(backup, "escaped/payload") | {"path": "data/../escaped/payload"}])
    code, out, _ = _cli(capsys, "restore", str(backup), "--check")
    assert code == 3 and "data/../escaped/payload: a path that leaves its folder" in out
    target = tmp_path / "restored"
    with pytest.raises(BackupError, match="nothing was restored"):
        restore_backup(backup, target)
    assert (not (tmp_path / "escaped").exists() and not target.exists()) or not any(
        target.iterdir()
    )


def test_a_file_listed_twice_or_two_files_to_one_target_are_refused(
    data_dir: Path, tmp_path: Path
) -> None:
    backup = take_backup(data_dir, tmp_path / "b").path
    watch = _entry(backup, "data/watchlist.json")
    (backup / "config").mkdir(exist_ok=True)
    (backup / "config" / "other.toml").write_text("[app]\n")
    _forge(backup, [watch, _entry(backup, "config/other.toml", "config")])
    (backup / "config" / "b.toml").write_text("[sim]\n")
    _forge(backup, [_entry(backup, "config/b.toml", "config")])
    _, problems = verify(backup)
    assert "data/watchlist.json: listed twice in the manifest: refused" in problems
    assert any("restores to config.toml, as config/other.toml does" in p for p in problems)


def test_a_link_in_a_backup_is_refused(data_dir: Path, tmp_path: Path) -> None:
    backup = take_backup(data_dir, tmp_path / "b").path
    secret = tmp_path / "outside.txt"
    secret.write_text('["600519.SSE"]')
    (backup / "data" / "watchlist.json").unlink()
    (backup / "data" / "watchlist.json").symlink_to(secret)
    (backup / "data" / "extra").symlink_to(tmp_path)
    _, problems = verify(backup)
    assert "data/watchlist.json: a link, not a file: refused" in problems
    assert "data/extra: a link: refused" in problems


def test_a_restore_cut_short_is_refused_by_every_command_until_redone(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The restore is killed after its journal landed and before its store did."""
    backup = take_backup(data_dir, tmp_path / "b").path
    target = tmp_path / "restored"
    code = (
        "import shutil, os, sys\n"
        "from pathlib import Path\n"
        "from services.ops import restore\n"
        "real = shutil.copyfile\n"
        "def copy(src, dst, *a, **k):\n"
        "    if '/store/' in str(src): os._exit(9)\n"  # killed: the store never lands
        "    return real(src, dst, *a, **k)\n"
        "restore.shutil.copyfile = copy\n"
        f"restore.restore_backup(Path({str(backup)!r}), Path({str(target)!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 9, done.stderr
    assert (target / RESTORE_MARK).is_file() and (target / "watchlist.json").is_file()
    for command in (
        ["state", "--json"],
        ["data", "status"],
        ["backup", "--to", str(tmp_path / "x")],
    ):
        rc, out, err = _cli(capsys, *command, "--data-dir", str(target))
        assert rc == 2 and "holds an unfinished restore" in err, (command, out, err)
    rc, _, err = _cli(capsys, "restore", str(backup), "--data-dir", str(target))
    assert rc == 1 and "an unfinished restore" in err and "--force" in err
    rc, out, err = _cli(capsys, "restore", str(backup), "--data-dir", str(target), "--force")
    assert rc == 0, err
    assert not (target / RESTORE_MARK).exists()
    assert (target / "arctic" / "bars_1d" / "data.mdb").is_file()
    rc, _, err = _cli(capsys, "data", "status", "--data-dir", str(target))
    assert rc == 0, err
