"""``quantdesk secrets``: a token stored by name reaches no file in plain text -- not under
the data directory (config, logs, journal), not the keyring file (encrypted), not the
terminal -- and a wrong passphrase is a clear error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
TOKEN = "ts-9f8e7d6c5b4a-SECRET-TOKEN"


def quantdesk(
    tmp: Path, *args: str, stdin: str = "", passphrase: str = "correct horse"
) -> subprocess.CompletedProcess[str]:
    home = tmp / "home"
    env = {
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "PYTHONPATH": str(REPO),
        "PATH": "/usr/bin:/bin",
        "QUANTDESK_KEYRING_PASSPHRASE": passphrase,
    }
    return subprocess.run(
        [sys.executable, "-m", "console.cli", "--data-dir", str(tmp / "data"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp,
    )


def every_file(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_a_secret_is_stored_by_name_and_never_in_plain_text(tmp_path: Path) -> None:
    stored = quantdesk(tmp_path, "secrets", "set", "tushare", stdin=TOKEN + "\n")
    assert stored.returncode == 0, stored.stderr
    assert "stored tushare in the keyring (keyrings.cryptfile" in stored.stdout
    listed = quantdesk(tmp_path, "secrets", "list")
    assert listed.returncode == 0 and listed.stdout.split() == ["tushare"]
    assert quantdesk(tmp_path, "state").returncode == 0  # a command that logs and reads
    headless = quantdesk(tmp_path, "halt", "--reason", "secrets test")  # writes the journal
    assert headless.returncode == 0, headless.stderr
    files = every_file(tmp_path)
    assert any(p.name == "journal.sqlite3" for p in files)
    assert any(p.name == "cryptfile_pass.cfg" for p in files)  # the keyring file exists
    for path in files:
        assert TOKEN.encode() not in path.read_bytes(), f"the token is in {path}"
    for out in (stored, listed, headless):
        assert TOKEN not in out.stdout + out.stderr

    # the value comes back only through the keyring, with the passphrase
    from services.ops.secrets import Secrets, open_keyring

    os.environ["QUANTDESK_KEYRING_PASSPHRASE"] = "correct horse"
    os.environ["XDG_DATA_HOME"] = str(tmp_path / "home" / ".local" / "share")
    try:
        assert Secrets(open_keyring(prompt=False)).get("tushare") == TOKEN
    finally:
        del os.environ["QUANTDESK_KEYRING_PASSPHRASE"], os.environ["XDG_DATA_HOME"]

    wrong = quantdesk(tmp_path, "secrets", "list", passphrase="wrong")
    assert wrong.returncode == 2 and "would not open with that passphrase" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    none = quantdesk(tmp_path, "secrets", "list", passphrase="")
    assert none.returncode == 2 and "QUANTDESK_KEYRING_PASSPHRASE" in none.stderr
    bad = quantdesk(tmp_path, "secrets", "set", "not a name", stdin="x")
    assert bad.returncode == 2 and "secret names are a letter" in bad.stderr
    gone = quantdesk(tmp_path, "secrets", "delete", "tushare")
    assert gone.returncode == 0
    again = quantdesk(tmp_path, "secrets", "delete", "tushare")
    assert again.returncode == 1 and "no secret named tushare" in again.stderr
    assert quantdesk(tmp_path, "secrets", "list").stdout.strip() == "no secrets stored"


def test_data_sync_from_tushare_reads_its_token_from_the_keyring(tmp_path: Path) -> None:
    """[data] source = "tushare": the token set with ``secrets set`` reaches Tushare (a local
    stand-in of its API) and nothing else; the bars go through the same validation."""
    from tests.unit.data.tushare_server import TushareServer

    with TushareServer(TOKEN) as server:
        config = tmp_path / "config.toml"
        config.write_text(f'[data]\nsource = "tushare"\ntushare_url = "{server.url}"\n')
        args = ("--config", str(config), "data", "sync", "--universe", "600519.SSE")
        missing = quantdesk(tmp_path, *args, "--start", "2024-01-02", "--end", "2024-01-05")
        assert missing.returncode == 2 and "quantdesk secrets set tushare" in missing.stderr
        assert server.calls == []
        quantdesk(tmp_path, "secrets", "set", "tushare", stdin=TOKEN + "\n")
        synced = quantdesk(tmp_path, *args, "--start", "2024-01-02", "--end", "2024-01-05")
        assert synced.returncode == 0, synced.stdout + synced.stderr
        assert "4 rows stored" in synced.stdout + synced.stderr
        assert {c["api_name"] for c in server.calls} >= {"daily", "adj_factor", "trade_cal"}
        assert all(c["token"] == TOKEN for c in server.calls)
        shown = quantdesk(tmp_path, "data", "show", "600519.SSE", "--adjust", "none")
        assert "1690" in shown.stdout, shown.stdout + shown.stderr
    for path in every_file(tmp_path):
        assert TOKEN.encode() not in path.read_bytes(), f"the token is in {path}"


def test_a_token_echoed_by_the_source_is_masked_on_the_terminal_and_in_the_log(
    tmp_path: Path,
) -> None:
    """A source whose refusal quotes the token ("token X 已失效"): the message reaches the
    trader with the token masked, in the terminal's output and in quantdesk.log."""
    from tests.unit.data.tushare_server import TushareServer

    with TushareServer(TOKEN) as server:
        config = tmp_path / "config.toml"
        config.write_text(f'[data]\nsource = "tushare"\ntushare_url = "{server.url}"\n')
        quantdesk(tmp_path, "secrets", "set", "tushare", stdin=TOKEN + "\n")
        server.script.append(("echo",))
        args = ("--config", str(config), "data", "sync", "--universe", "600519.SSE")
        refused = quantdesk(tmp_path, *args, "--start", "2024-01-02", "--end", "2024-01-05")
        assert server.calls and server.calls[0]["token"] == TOKEN  # it did reach the source
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "token *** 已失效" in said, said
    log = (tmp_path / "data" / "logs" / "quantdesk.log").read_text(encoding="utf-8")
    assert "已失效" in log
    for path in every_file(tmp_path):
        assert TOKEN.encode() not in path.read_bytes(), f"the token is in {path}"
    assert TOKEN not in said


def test_a_damaged_keyring_file_is_named_never_taken_for_an_empty_one(tmp_path: Path) -> None:
    """Random bytes, a file without its password check entry, one damaged entry: each is
    an error naming the file (or the entry), the file left as it is; never "no secrets
    stored", never blamed on the passphrase."""
    assert quantdesk(tmp_path, "secrets", "set", "tushare", stdin=TOKEN + "\n").returncode == 0
    path = tmp_path / "home" / ".local" / "share" / "python_keyring" / "cryptfile_pass.cfg"
    good = path.read_bytes()
    for damage in (os.urandom(200), b"[quantdesk]\ntushare = garbage\n", b""):
        path.write_bytes(damage)
        listed = quantdesk(tmp_path, "secrets", "list")
        assert listed.returncode == 2, listed.stdout
        assert f"the keyring file {path} cannot be read" in listed.stderr
        assert "no secrets stored" not in listed.stdout and "passphrase" not in listed.stderr
        assert path.read_bytes() == damage  # never started over
    lines = good.decode().splitlines()
    entry = next(i for i, line in enumerate(lines) if line.startswith("tushare"))
    lines[entry] = "tushare = AAAA"
    path.write_text("\n".join(lines) + "\n")
    listed = quantdesk(tmp_path, "secrets", "list")
    assert listed.returncode == 1 and "tushare  DAMAGED: set it again" in listed.stdout
    assert "Traceback" not in listed.stderr
