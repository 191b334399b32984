"""A notebook's Research and ``quantdesk backtest`` read a data directory's config one way
(services/config.py): the same run gives the same figures in both."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from console.cli import main
from services.research import Research


def test_research_reads_the_data_directorys_config_as_the_command_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "data", "demo"]) == 0
    (data / "config.toml").write_text(
        "[costs]\ncommission_rate = 0.003\ncommission_min = 20.0\n\n"
        "[backtest]\ntrading_days = 200\ninit_cash = 250000.0\n",
        encoding="utf-8",
    )
    capsys.readouterr()
    argv = ["--data-dir", str(data), "backtest", "ma_cross", "--symbol", "600519.SSE", "--json"]
    assert main(argv) == 0
    command = json.loads(capsys.readouterr().out)
    notebook = Research(data).backtest("ma_cross", "600519.SSE")
    assert (
        notebook.doc["setup"]["ann_factor"] == 200 and notebook.doc["setup"]["init_cash"] == 250_000
    )
    assert dict(notebook.metrics) == pytest.approx(command["metrics"], nan_ok=True)
    fees = [t["fees"] for t in command["trades"]]
    assert list(notebook.trades["fees"]) == pytest.approx(fees)
    assert min(fees) >= 40.0  # two 20 CNY minimums: the config's costs, not the defaults
    bad = tmp_path / "bad.toml"
    bad.write_text("[backtest]\ntrading_dayz = 1\n")
    with pytest.raises(Exception, match="unknown key 'trading_dayz'"):
        Research(data, config=bad)
