"""The example notebook runs, offline, on a fresh data directory: the demo history and a
real price file, a backtest, a sweep, plots and a saved run the console lists."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[2]


def test_the_research_notebook_runs_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = nbformat.read(REPO / "notebooks" / "research.ipynb", as_version=4)
    data = tmp_path / "data"
    monkeypatch.setenv("QUANTDESK_DATA_DIR", str(data))  # the kernel inherits it
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(REPO / "notebooks")}},
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs
    )
    assert "warm-up bars:" in text and "ORCL.US" in text
    assert any("application/vnd.plotly.v1+json" in o.get("data", {}) for o in outputs)
    from services.backtest.runs import RunStore

    assert [s.strategy for s in RunStore(data / "backtests.db").list()] == ["ma_cross"]
