"""The command line itself: every option explains itself, and output piped into a reader
that stops early (``| head``) ends quietly."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from console.cli import build_parser
from tests.real_data import REAL

REPO = Path(__file__).resolve().parents[2]


def walk(parser: argparse.ArgumentParser, path: str) -> list[tuple[str, argparse.Action]]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                out += walk(child, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction):
            out.append((path, action))
    return out


def test_every_option_and_argument_has_a_line_of_help() -> None:
    actions = walk(build_parser(), "quantdesk")
    assert len(actions) > 80  # every command was walked
    missing = [
        f"{where} {action.option_strings or action.dest}"
        for where, action in actions
        if not (action.help and action.help.strip())
    ]
    assert missing == []


def run_into_head(data: Path, *args: str) -> tuple[int, str]:
    """``quantdesk ARGS | head -1``: the reader closes the pipe after one line."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "console.cli", "--data-dir", str(data), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(data)},
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # as head does after its line
    err = proc.stderr.read().decode()
    return proc.wait(timeout=60), err


def test_output_piped_into_head_ends_quietly(tmp_path: Path) -> None:
    data = tmp_path / "d"
    imported = subprocess.run(
        [
            *(sys.executable, "-m", "console.cli", "--data-dir", str(data), "data", "import"),
            *(str(REAL / "orcl-1995-2014.txt"), "--symbol", "ORCL.US"),
        ],
        capture_output=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(data)},
    )
    assert imported.returncode == 0, imported.stderr
    for args in (
        ("data", "show", "ORCL.US", "--format", "csv"),
        ("data", "show", "ORCL.US", "--tail", "0"),
    ):
        code, err = run_into_head(data, *args)
        assert "Traceback" not in err and "BrokenPipe" not in err, err
        assert code in (141, 1), (args, code, err)  # 141 as cat gives; rich's tables give 1


def cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console.cli", "--data-dir", str(data), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(data)},
    )


def test_modes_on_the_command_line_say_what_is_wrong(tmp_path: Path) -> None:
    data = tmp_path / "d"
    bad = tmp_path / "notes.txt"
    bad.write_text("not a recording\n")
    cases = [
        (("--mode", "replay"), "replay needs a recording: quantdesk --mode replay FILE"),
        (("--mode", "replay", str(tmp_path / "missing.gz")), "no recording at"),
        (("--mode", "replay", str(bad)), "not a quantdesk recording"),
        (("--recording", str(bad)), "a recording is only played with --mode replay"),
        (("--mode", "replay", str(bad), "--speed", "-1"), "--speed must be 0-1000"),
        (("--mode", "live"), "live mode trades the accounts you name: --account ID (none in"),
        (("--mode", "dreams"), "invalid choice: 'dreams'"),
        ((), "the console needs a terminal, and its output is not one (a pipe or a file)"),
        (("--mode", "paper"), "the console needs a terminal"),
    ]
    for args, words in cases:
        result = cli(data, *args)
        assert result.returncode == 2 and words in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_halt_of_another_modes_account_with_nothing_running(tmp_path: Path) -> None:
    data = tmp_path / "d"
    done = cli(data, "halt", "--mode", "paper", "--reason", "feed checks")
    assert done.returncode == 0, done.stderr
    assert (data / "paper" / "journal.sqlite3").exists()
    assert not (data / "journal.sqlite3").exists()  # the demo account is untouched
    state = cli(data, "state", "--mode", "paper")
    assert state.returncode == 0 and state.stdout.startswith("paper: trading HALTED (feed checks")
    code, err = run_into_head(data, "journal", "export", "--mode", "paper")
    assert code in (0, 141) and "Traceback" not in err


def test_state_of_an_account_nothing_traded_in_is_an_empty_active_one(tmp_path: Path) -> None:
    """A fresh data directory: the account a first start would open (exit 0), not an
    error; nothing is written for asking."""
    import json

    data = tmp_path / "d"
    shown = cli(data, "state", "--mode", "paper")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [
        "paper: trading ACTIVE",
        "running: no; cash 1,000,000.00",
        f"no paper journal in {data} yet: nothing has traded in paper mode here",
    ]
    doc = json.loads(cli(data, "state", "--json").stdout)
    assert (doc["state"], doc["cash"], doc["positions"], doc["journal_entries"]) == (
        "ACTIVE",
        1_000_000.0,
        [],
        0,
    )
    assert not list(data.rglob("*.sqlite3"))
