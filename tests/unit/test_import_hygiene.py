"""services/ and strategies/ import without Textual; vnpy leaves no side effects behind."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def python(code: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter with a bare environment (no inherited imports)."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"HOME": str(home), "PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


def modules(package: str) -> list[str]:
    """Every module under ``package``, subpackages included."""
    found = pkgutil.walk_packages([str(REPO / package)], prefix=f"{package}.")
    return [m.name for m in found]


def test_services_and_strategies_import_without_textual(tmp_path: Path) -> None:
    names = ["services", "strategies", *modules("services"), *modules("strategies")]
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('textual', 'console', 'panes', 'rich'))\n"
        "assert not bad, bad\n"
        # vnpy side effects we must not trigger: logger stdout sink, ~/.vntrader, chdir
        "assert 'loguru' not in sys.modules and 'vnpy.trader.utility' not in sys.modules\n"
        "print(len(sys.modules))\n"
    )
    home = tmp_path / "home"
    home.mkdir()
    proc = python(code, cwd=tmp_path, home=home)
    assert proc.returncode == 0, proc.stderr
    assert not (home / ".vntrader").exists() and not (tmp_path / ".vntrader").exists()
    assert len(names) > 10


def test_the_console_loads_no_backtest_engine_until_a_backtest_runs(tmp_path: Path) -> None:
    """numba and vectorbt cost seconds to import: only the worker process and the CLI load
    them; apprise (0.15 s) and python-telegram-bot load only where alerting is configured."""
    code = (
        "import sys\n"
        "import console.app, console.cli, console.backtests, services.runtime\n"
        "heavy = [m for m in ('numba', 'vectorbt', 'plotly', 'services.backtest.kernel', "
        "'apprise', 'telegram') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    proc = python(code, cwd=tmp_path, home=tmp_path)
    assert proc.returncode == 0, proc.stderr
