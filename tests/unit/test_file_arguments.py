"""Every path a command writes -- --report, runs report, journal export --output, backup
--to, --data-dir, --config, a recording -- given a folder for a file, a file on the way,
or a place that cannot be written: one line naming it, never a traceback, nothing left."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from console.cli import main

UNWRITABLE = Path("/proc/self")  # even root cannot make files there


@pytest.fixture(scope="module")
def traded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with history, a saved run and a journal."""
    data = tmp_path_factory.mktemp("traded") / "data"
    assert main(["--data-dir", str(data), "data", "demo"]) == 0
    assert main(["--data-dir", str(data), "halt", "--reason", "setup"]) == 0
    assert (
        main(["--data-dir", str(data), "backtest", "ma_cross", "--symbol", "600519.SSE", "--save"])
        == 0
    )
    return data


@pytest.fixture
def place(tmp_path: Path) -> Path:
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "a-folder").mkdir()
    return tmp_path


WRITERS = {
    "--report": lambda d, p: [
        "--data-dir",
        d,
        "backtest",
        "ma_cross",
        "--symbol",
        "600519.SSE",
        "--report",
        p,
    ],
    "runs report": lambda d, p: ["--data-dir", d, "runs", "report", "1", p],
    "journal export": lambda d, p: ["--data-dir", d, "journal", "export", "--output", p],
}
BAD_FILES = {
    "a folder": ("a-folder", "is a folder: give a file name in it"),
    "under a file": ("a-file/out", "a-file is a file, not a folder"),
    "unwritable": (str(UNWRITABLE / "out"), "its folder is not writable"),
}


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("bad", BAD_FILES)
def test_an_output_file_that_cannot_be_one_is_one_line(
    traded: Path, place: Path, writer: str, bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    target, said = BAD_FILES[bad]
    path = target if target.startswith("/") else str(place / target)
    assert main(WRITERS[writer](str(traded), path)) == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not list(place.glob("**/*.part"))


def test_a_missing_folder_for_an_output_file_is_made(
    traded: Path, place: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = place / "new" / "deeper" / "export.csv"
    assert main(["--data-dir", str(traded), "journal", "export", "--output", str(path)]) == 0
    assert path.read_text().startswith("seq,at,kind,ref,payload")


@pytest.mark.parametrize(
    ("target", "said"),
    [
        ("a-file", "the data directory {p}/a-file is a file, not a folder"),
        ("a-file/data", "a-file is a file, not a folder"),
        (str(UNWRITABLE / "qd"), "cannot make the data directory"),
    ],
)
def test_a_data_directory_that_cannot_be_one(
    place: Path, target: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = target if target.startswith("/") else str(place / target)
    assert main(["--data-dir", path, "state"]) == 2
    err = capsys.readouterr().err
    assert said.format(p=place) in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("target", "said"),
    [
        ("a-file", "the backup folder {p}/a-file is a file, not a folder"),
        ("a-file/b", "a-file is a file, not a folder"),
        (str(UNWRITABLE / "b"), "cannot make the backup folder"),
    ],
)
def test_a_backup_folder_that_cannot_be_one(
    traded: Path, place: Path, target: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = target if target.startswith("/") else str(place / target)
    assert main(["--data-dir", str(traded), "backup", "--to", path]) == 1
    err = capsys.readouterr().err
    assert said.format(p=place) in err and "Traceback" not in err


def test_a_folder_given_for_the_config_or_a_recording(
    place: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(place / "data")
    assert main(["--data-dir", data, "--config", str(place / "a-folder"), "state"]) == 2
    assert "is a folder: give the config file in it" in capsys.readouterr().err
    assert main(["--data-dir", data, "--mode", "replay", str(place / "a-folder")]) == 2
    assert "it is a folder, not a file" in capsys.readouterr().err
    shutil.rmtree(place / "a-folder")
