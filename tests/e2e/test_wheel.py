"""A plain (non-editable) install works: build the wheel from a copy of the sources,
install it into a fresh venv, and run the installed ``quantdesk`` from a folder that has
no source tree in it — ``--help``, ``data demo``, a CSV import and a backtest.

The fresh venv sees the already-installed dependencies through a ``.pth`` line (no
download), but not the editable install of the repository: a ``.pth`` path line adds a
folder to ``sys.path`` without running the ``.pth`` files inside it. So every quantdesk
module imported here comes from the wheel, as after ``pip install .`` (the Dockerfile's).
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.real_data import REAL

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("console", "panes", "services", "strategies")


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "config.toml"):
        shutil.copy2(REPO / name, src / name)
    for package in PACKAGES:
        shutil.copytree(REPO / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    dist = work / "dist"
    built = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(dist),
            str(src),
        ],
        work,
        dict(os.environ),
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = dist.glob("quantdesk-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for must in (
        "services/backtest/kernel.py",
        "services/data/sync.py",
        "services/data/sources/demo.py",
        "console/app.tcss",
        "panes/__init__.py",
    ):
        assert must in names, f"{must} missing from the wheel"
    venv = work / "venv"
    assert _run([sys.executable, "-m", "venv", str(venv)], work, dict(os.environ)).returncode == 0
    purelib = next(venv.glob("lib/python3*/site-packages"))
    (purelib / "_quantdesk_test_deps.pth").write_text(site.getsitepackages()[0] + "\n")
    installed = _run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "-q", str(wheel)],
        work,
        dict(os.environ),
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    return venv


def test_the_installed_command_works_without_the_sources(wheel_venv: Path, tmp_path: Path) -> None:
    env = {
        "HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", str(tmp_path / "numba")),
    }
    exe = str(wheel_venv / "bin" / "quantdesk")
    data = tmp_path / "data"

    where = _run(
        [
            str(wheel_venv / "bin" / "python"),
            "-c",
            "import services.backtest.kernel as k; print(k.__file__)",
        ],
        tmp_path,
        env,
    )
    assert where.returncode == 0 and str(wheel_venv) in where.stdout, where.stdout + where.stderr

    helped = _run([exe, "--help"], tmp_path, env)
    assert helped.returncode == 0 and "usage: quantdesk" in helped.stdout, helped.stderr

    demo = _run([exe, "--data-dir", str(data), "data", "demo"], tmp_path, env)
    assert demo.returncode == 0, demo.stderr
    status = _run([exe, "--data-dir", str(data), "data", "status"], tmp_path, env)
    assert "600519.SSE" in status.stdout, status.stdout + status.stderr

    imported = _run(
        [
            exe,
            "--data-dir",
            str(data),
            "data",
            "import",
            str(REAL / "orcl-1995-2014.txt"),
            "--symbol",
            "ORCL.US",
        ],
        tmp_path,
        env,
    )
    assert imported.returncode == 0, imported.stderr
    ran = _run(
        [exe, "--data-dir", str(data), "backtest", "ma_cross", "--symbol", "ORCL.US", "--json"],
        tmp_path,
        env,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    doc = json.loads(ran.stdout)
    assert doc["symbol"] == "ORCL.US" and doc["metrics"]["trades"] > 0
