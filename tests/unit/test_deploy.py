"""The systemd unit in deploy/ runs a command quantdesk accepts, as documented; CI's
install and the test lanes are what the README says."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

from console.cli import parse_args

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "quantdesk.service"


def test_the_systemd_unit_runs_quantdesk_headless() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys keep case
    unit.read(UNIT, encoding="utf-8")
    service = unit["Service"]
    command = shlex.split(service["ExecStart"])
    assert command[0].endswith("/.venv/bin/quantdesk")
    args = parse_args(command[1:])
    assert args.headless and args.command is None
    assert service["KillSignal"] == "SIGTERM"  # what --headless stops cleanly on
    assert service["Environment"] == "LANG=C.UTF-8"
    assert unit["Install"]["WantedBy"] == "default.target"
    readme = (UNIT.parents[1] / "README.md").read_text(encoding="utf-8")
    assert "deploy/quantdesk.service" in readme


def test_ci_installs_with_the_venv_first_on_path() -> None:
    """vnpy_ctp's meson build runs ``python3 -c 'import pybind11'`` with whatever python3 is
    first on PATH: an older one there (3.7) stopped the install before any test. Every
    install in .ci/run runs with the venv's bin first."""
    script = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text().splitlines()
    path_at = next(
        i for i, line in enumerate(script) if line.startswith('export PATH="$PWD/.venv/bin:')
    )
    installs = [i for i, s in enumerate(script) if "pip install" in s and not s.startswith("#")]
    assert installs and all(i > path_at for i in installs)


def test_the_fast_lane_leaves_out_every_end_to_end_test() -> None:
    """``pytest -m "not e2e"`` (the README's fast lane) collects nothing from tests/e2e,
    and everything else: each e2e file is marked (tests/e2e/conftest.py marks one that
    forgets)."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]

    def collected(*args: str) -> str:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "--collect-only",
                "-q",
                "-p",
                "no:cacheprovider",
                *args,
            ],
            capture_output=True,
            text=True,
            cwd=repo,
        )
        return done.stdout

    fast = collected("-m", "not e2e", "tests/e2e")
    assert "no tests collected" in fast and "deselected" in fast, fast
    slow = collected("-m", "e2e", "tests/e2e").splitlines()
    files = {line.split("::")[0] for line in slow if "::" in line}
    assert files == {str(p.relative_to(repo)) for p in (repo / "tests" / "e2e").glob("test_*.py")}
