"""One instance per data directory, a halt channel that only its owner can use, a
read-only copy that can still be read, private files -- with the real command."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.ops import control_server
from services.ops.control_server import address, trusted
from tests.e2e.test_ops import env

pytestmark = pytest.mark.e2e

NOBODY = 65534
as_root = pytest.mark.skipif(os.getuid() != 0, reason="switching to another uid needs root")


def quantdesk(data: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console.cli", "--data-dir", str(data), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env(data.parent),
        cwd=data.parent,
        stdin=subprocess.DEVNULL,
    )


def as_other_user(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``quantdesk ARGS`` run as uid 65534: the interpreter and the modules it needs are
    loaded as root (they live under /root), then the process drops to the other uid."""
    script = (
        "import os, sys\n"
        "import console.cli, console.ops_cli, console.data_cli, services.records.journal, "
        "services.records.recovery, services.trading.control, services.bus, services.store, "
        "services.ops.control_server, services.ops.datadir, services.ops.redact, "
        "services.ops.logs, services.runtime\n"
        f"os.setgroups([]); os.setgid({NOBODY}); os.setuid({NOBODY})\n"
        f"sys.exit(console.cli.main(['--data-dir', {str(data)!r}, *{list(args)!r}]))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env=env(data.parent),
        cwd="/",
        stdin=subprocess.DEVNULL,
    )


def headless(data: Path) -> subprocess.Popen[str]:
    """``quantdesk --headless`` on ``data``, returned once its services run."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "console.cli", "--data-dir", str(data), "--headless"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(data.parent),
        cwd=data.parent,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.startswith("quantdesk headless on"), first + (
        proc.stderr.read() if proc.stderr else ""
    )
    return proc


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    data = tmp_path / "data"
    proc = headless(data)
    yield data, proc
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=15)


def test_a_second_instance_on_one_data_directory_is_refused(
    running: tuple[Path, subprocess.Popen[str]],
) -> None:
    data, first = running
    for args in (("--headless",), ()):  # headless, and the console itself
        second = quantdesk(data, *args)
        assert second.returncode == 2, second.stdout + second.stderr
        assert f"already running on {data} (pid {first.pid})" in second.stderr
    state = json.loads(quantdesk(data, "state", "--json").stdout)  # reading works beside it
    assert state["running"] is True and state["pid"] == first.pid
    assert quantdesk(data, "journal", "export").returncode == 0
    first.terminate()
    assert first.wait(timeout=15) == 0
    again = headless(data)  # the lock went with the first instance
    again.terminate()
    assert again.wait(timeout=15) == 0


def test_data_directory_and_its_files_are_private(
    running: tuple[Path, subprocess.Popen[str]],
) -> None:
    data, _ = running
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("journal.sqlite3", "logs/quantdesk.log", "quantdesk.lock"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name


def test_a_data_directory_loosened_by_hand_is_private_after_any_start(tmp_path: Path) -> None:
    """logs/ 0755 and quantdesk.log 0644 (a copy made with cp -r, a notebook's umask):
    a start tightens everything under the data directory, the store and the hidden
    files included."""
    data = tmp_path / "data"
    assert quantdesk(data, "halt", "--reason", "setup").returncode == 0
    (data / ".ready").write_text("")
    (data / "notes").mkdir()
    (data / "notes" / "n.txt").write_text("x")
    for path in [data, *data.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    assert quantdesk(data, "state").returncode == 0  # any start: here, one that only reads
    loose = [
        f"{p.relative_to(data)} {stat.S_IMODE(p.stat().st_mode):o}"
        for p in [data, *data.rglob("*")]
        if stat.S_IMODE(p.stat().st_mode) != (0o700 if p.is_dir() else 0o600)
    ]
    assert loose == []


def test_files_a_notebook_creates_are_private_whatever_its_umask(tmp_path: Path) -> None:
    from services.backtest.runs import RunStore
    from services.records.journal import Journal

    old = os.umask(0o022)
    try:
        RunStore(tmp_path / "backtests.db").list()
        Journal(tmp_path / "journal.sqlite3").close()
    finally:
        os.umask(old)
    for name in ("backtests.db", "journal.sqlite3"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name


def test_the_peer_check_allows_only_the_same_user_or_root() -> None:
    assert trusted(1000, own_uid=1000) and trusted(0, own_uid=1000)
    assert not trusted(1001, own_uid=1000) and not trusted(NOBODY, own_uid=1000)


@as_root
def test_another_user_cannot_halt_through_the_socket(
    running: tuple[Path, subprocess.Popen[str]],
) -> None:
    """The data directory is 0700, but the abstract address is not a file: another user
    can reach it. The instance answers "forbidden" and halts nothing."""
    data, _ = running
    # The client quantdesk halt uses. The refusal is written and the connection closed
    # before the request is read: the client must still show it, not a broken pipe.
    script = (
        "import os, pathlib\n"
        "from services.ops.control_server import request\n"
        f"os.setgroups([]); os.setgid({NOBODY}); os.setuid({NOBODY})\n"
        f"print(request(pathlib.Path({str(data)!r}), 'halt not yours', timeout=5))\n"
    )
    attempt = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    assert attempt.stdout.strip() == "error forbidden", attempt.stdout + attempt.stderr
    state = json.loads(quantdesk(data, "state", "--json").stdout)
    assert state["state"] == "ACTIVE"
    log = (data / "logs" / "quantdesk.log").read_text()
    assert f"control connection from uid {NOBODY} refused" in log


@as_root
def test_halt_refuses_a_squatter_run_by_another_user(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    squat = (
        "import os, socket, sys, time\n"
        f"os.setgid({NOBODY}); os.setuid({NOBODY})\n"
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
        f"s.bind({address(data)!r}); s.listen(4); print('ready', flush=True)\n"
        "while True:\n"
        "    c, _ = s.accept()\n"
        "    try:\n"
        "        c.recv(100); c.sendall(b'halted 0\\n')\n"
        "    except OSError:\n"
        "        pass\n"
        "    c.close()\n"
    )
    squatter = subprocess.Popen([sys.executable, "-c", squat], stdout=subprocess.PIPE, text=True)
    try:
        assert squatter.stdout is not None and squatter.stdout.readline().strip() == "ready"
        halted = quantdesk(data, "halt")
        assert halted.returncode == 1
        assert "not by this user or root" in halted.stderr and "halted the" not in halted.stdout
        start = quantdesk(data, "--headless", timeout=60)  # nor will an instance run there
        assert start.returncode == 2 and "control address" in start.stderr
    finally:
        squatter.kill()
        squatter.wait()


def test_a_squatter_of_the_same_user_cannot_fake_a_halt(tmp_path: Path) -> None:
    """The address answers "halted" to anything, but it is no quantdesk: ``halt`` does not
    claim success (its first question, the running mode, gets a nonsense answer)."""
    data = tmp_path / "data"
    assert quantdesk(data, "state").returncode == 0  # makes the directory, no journal yet
    fake = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    fake.bind(address(data))
    fake.listen(4)
    child = subprocess.Popen(
        [sys.executable, "-m", "console.cli", "--data-dir", str(data), "halt"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(tmp_path),
        cwd=tmp_path,
    )
    conn, _ = fake.accept()
    conn.recv(100)
    conn.sendall(b"halted 3\n")
    conn.close()
    out, err = child.communicate(timeout=60)
    fake.close()
    assert child.returncode == 1, out + err
    assert "not a quantdesk instance" in err and "halted the running" not in out


def test_a_refusal_written_before_the_request_is_read_still_reaches_the_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refusing server answers and closes without reading: the client's send then
    fails with a broken pipe, and the answer waiting in its buffer must still be read."""
    data = tmp_path / "data"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(address(data))
    server.listen(1)
    closed = threading.Event()

    def refuse() -> None:
        conn, _ = server.accept()
        conn.sendall(b"error forbidden\n")
        conn.close()
        closed.set()

    def uid_after_the_close(sock: socket.socket) -> int:
        assert closed.wait(5)  # the client sends only once the server has gone
        return os.getuid()

    threading.Thread(target=refuse, daemon=True).start()
    monkeypatch.setattr(control_server, "peer_uid", uid_after_the_close)
    try:
        assert control_server.request(data, "halt", timeout=5) == "error forbidden"
    finally:
        server.close()


def test_a_connection_held_open_does_not_delay_a_halt(
    running: tuple[Path, subprocess.Popen[str]],
) -> None:
    data, _ = running
    hogs = []
    for _ in range(3):
        hog = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        hog.connect(address(data))  # connects and sends nothing
        hogs.append(hog)
    try:
        halted = quantdesk(data, "halt")
        assert halted.returncode == 0 and halted.stdout.startswith("halted the running")
    finally:
        for hog in hogs:
            hog.close()


@as_root
def test_a_read_only_copy_can_be_read_but_not_traded(
    running: tuple[Path, subprocess.Popen[str]], tmp_path: Path
) -> None:
    data, proc = running
    assert quantdesk(data, "halt", "--reason", "audit me").returncode == 0
    proc.terminate()
    assert proc.wait(timeout=15) == 0
    outside = Path(tempfile.mkdtemp(prefix="quantdesk-audit-"))  # reachable by another uid
    os.chmod(outside, 0o755)
    copy = outside / "audit"
    shutil.copytree(data, copy)
    for path in [copy, *copy.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)  # readable, writable by root only
    state = as_other_user(copy, "state", "--json")
    assert state.returncode == 0, state.stderr
    assert json.loads(state.stdout)["state"] == "HALTED"
    export = as_other_user(copy, "journal", "export")
    assert export.returncode == 0 and "audit me" in export.stdout, export.stderr
    for args in (("--headless",), ("halt",), ("data", "status")):
        refused = as_other_user(copy, *args)
        assert "Traceback" not in refused.stderr, refused.stderr
        assert refused.returncode != 0 or args == ("data", "status"), refused.stderr
    assert "read-only copy" in as_other_user(copy, "--headless").stderr
    assert sorted(p.name for p in copy.iterdir()) == sorted(p.name for p in data.iterdir())
    shutil.rmtree(outside)
