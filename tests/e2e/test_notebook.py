"""The example notebook runs, offline, on a fresh data directory (the demo history and a
real price file, a backtest, a sweep, plots and a saved run the console lists) and on
a store of the user's that holds neither of its example symbols' files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def run_notebook(data: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every cell against ``data``; the text of their outputs (no cell may fail)."""
    notebook = nbformat.read(REPO / "notebooks" / "research.ipynb", as_version=4)
    monkeypatch.setenv("QUANTDESK_DATA_DIR", str(data))  # the kernel inherits it
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(REPO / "notebooks")}},
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, errors[0].get("evalue")
    assert any("application/vnd.plotly.v1+json" in o.get("data", {}) for o in outputs)
    return "\n".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs
    )


def test_the_research_notebook_runs_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    text = run_notebook(data, monkeypatch)
    assert "warm-up bars:" in text and "one-symbol examples on ORCL.US" in text
    from services.backtest.runs import RunStore

    assert [s.strategy for s in RunStore(data / "backtests.db").list()] == ["ma_cross"]


def test_on_a_store_without_its_example_file_it_uses_the_stores_own_symbols(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It assumed ORCL.US whenever the data directory was not empty (StoreError)."""
    data = tmp_path / "data"
    made = subprocess.run(
        [sys.executable, "-m", "console.cli", "--data-dir", str(data), "data", "demo"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert made.returncode == 0, made.stderr
    text = run_notebook(data, monkeypatch)
    assert "20 symbols; one-symbol examples on 000001.SZSE, the rest on ['600519.SSE'" in text
    assert "ORCL.US" not in text
