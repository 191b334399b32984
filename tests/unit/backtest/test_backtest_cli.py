"""``quantdesk backtest`` and ``quantdesk runs`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from console.cli import main
from tests.real_data import REAL

METRICS = {
    "total_return",
    "annual_return",
    "annual_volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "win_rate",
    "profit_factor",
    "trades",
    "exposure",
}
TRADE = {"entry_time", "entry_price", "exit_time", "exit_price", "size", "pnl", "return"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bt")
    for name, symbol in (("orcl-1995-2014.txt", "ORCL.US"), ("yhoo-1996-2014.txt", "YHOO.US")):
        args = ["--data-dir", str(path), "data", "import", str(REAL / name), "--symbol", symbol]
        assert main(args) == 0
    return path


def cli(capsys: pytest.CaptureFixture[str], data_dir: Path, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--data-dir", str(data_dir), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_document_has_the_documented_shape(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(
        capsys,
        data_dir,
        "backtest",
        "ma_cross",
        "--symbol",
        "ORCL.US",
        "--adjust",
        "none",
        "--param",
        "fast=10",
        "--param",
        "slow=30",
        "--start",
        "2000-01-01",
        "--json",
    )
    assert code == 0
    doc = json.loads(out)
    assert {"strategy", "symbol", "params", "metrics", "trades"} <= set(doc)
    assert doc["strategy"] == "ma_cross" and doc["symbol"] == "ORCL.US"
    assert doc["params"] == {"fast": 10.0, "slow": 30.0}
    assert set(doc["metrics"]) == METRICS
    assert doc["metrics"]["trades"] == len(doc["trades"]) > 20
    assert set(doc["trades"][0]) >= TRADE
    assert doc["trades"][0]["entry_time"] >= "2000-01-01"


def test_grid_and_oos_rank_the_sweep_and_report_out_of_sample(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(
        capsys,
        data_dir,
        "backtest",
        "ma_cross",
        "--symbol",
        "ORCL.US",
        "--grid",
        "fast=5:20:5",
        "--grid",
        "slow=30,60,90",
        "--oos",
        "0.25",
        "--metric",
        "calmar",
        "--json",
    )
    assert code == 0
    doc = json.loads(out)
    assert len(doc["sweep"]) == 12
    ranked = [row["metrics"]["calmar"] for row in doc["sweep"]]
    assert ranked == sorted(ranked, reverse=True)
    assert doc["params"] == doc["sweep"][0]["params"]
    assert doc["metrics"] == doc["sweep"][0]["metrics"]  # the best, over the in-sample bars
    assert set(doc["oos"]["metrics"]) == METRICS and doc["oos"]["start"] > doc["start"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--param", "fastt=3"], "ma_cross has no parameter 'fastt'; it takes fast, slow"),
        (["--param", "fast=40"], "fast (40) must be shorter than slow (30)"),
        (["--grid", "fast=10:5:1"], "--grid fast: expected START:STOP:STEP"),
        (["--oos", "1.5"], "--oos is the out-of-sample fraction"),
        (["--metric", "alpha"], "unknown metric 'alpha'"),
        (["--walk-forward", "10"], "--walk-forward expects TRAIN:TEST"),
        (["--cash", "-5"], "--cash: must be > 0"),
        (["--cash", "inf"], "--cash: expected a finite number"),
        (["--size", "0"], "--size: must be > 0"),
        (["--stop-loss", "-1"], "--stop-loss: must be a fraction >= 0"),
        (["--param", "fast=inf"], "--param fast: expected a finite number, got 'inf'"),
        (["--param", "fast=nan"], "--param fast: expected a finite number, got 'nan'"),
        (["--grid", "fast=1:2:1e-9"], "spans 1,000,000,001 values, above 100,000"),
        (["--fees", "inf"], "--fees: expected a finite number"),
        (
            ["--grid", "fast=2:200:1", "--grid", "slow=3:300:1"],
            "the grid spans 59,302 combinations and about 283 MiB of memory, above "
            "[backtest] max_combinations (20,000): narrow it, or confirm with --large-grid",
        ),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(
    data_dir: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = cli(capsys, data_dir, "backtest", "ma_cross", "--symbol", "ORCL.US", *args)
    assert code == 2 and message in err and out == ""


def test_a_symbol_missing_from_the_store_says_how_to_get_it(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, data_dir, "backtest", "rsi", "--symbol", "600519.SSE")
    assert code == 2 and "no 1d bars for 600519.SSE in the store: sync or import first" in err


def test_saved_runs_keep_snapshot_and_code_version_and_compare_side_by_side(
    data_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ids = []
    for fast in ("5", "10"):
        code, out, _ = cli(
            capsys,
            data_dir,
            "backtest",
            "ma_cross",
            "--symbol",
            "ORCL.US",
            "--param",
            f"fast={fast}",
            "--save",
            "--json",
        )
        doc = json.loads(out)
        assert code == 0 and doc["snapshot"].startswith("backtest-")
        assert len(doc["code_version"]["strategy_sha256"]) == 16
        ids.append(doc["run_id"])
    code, out, _ = cli(capsys, data_dir, "runs", "compare", str(ids[0]), str(ids[1]))
    assert code == 0 and "param fast" in out and "sharpe" in out
    code, out, _ = cli(capsys, data_dir, "runs", "show", str(ids[1]), "--json")
    assert json.loads(out)["params"]["fast"] == 10.0
    report = tmp_path / "r" / "run.html"
    code, _, _ = cli(capsys, data_dir, "runs", "report", str(ids[0]), str(report))
    text = report.read_text()
    assert code == 0 and "Plotly" in text and "Trades (" in text and "sharpe" in text
    code, _, err = cli(capsys, data_dir, "runs", "show", "999")
    assert code == 2 and "no saved run 999" in err


def test_walk_forward_and_heatmap_in_the_html_report(
    data_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    report = tmp_path / "wf.html"
    code, out, _ = cli(
        capsys,
        data_dir,
        "backtest",
        "ma_cross",
        "--symbol",
        "ORCL.US",
        "--grid",
        "fast=5,10",
        "--grid",
        "slow=30,60",
        "--walk-forward",
        "1000:500",
        "--report",
        str(report),
    )
    assert code == 0 and "walk-forward 1000:500" in out
    text = report.read_text()
    assert "Walk-forward windows" in text and "sharpe by fast (rows) and slow (columns)" in text


def test_two_symbols_make_a_portfolio_sharing_cash(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(
        capsys,
        data_dir,
        "backtest",
        "ma_cross",
        "--symbol",
        "ORCL.US",
        "--symbol",
        "YHOO.US",
        "--sizing",
        "percent",
        "--size",
        "0.5",
        "--json",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["symbols"] == ["ORCL.US", "YHOO.US"] and doc["symbol"] == "ORCL.US,YHOO.US"
    assert {t["symbol"] for t in doc["trades"]} == {"ORCL.US", "YHOO.US"}
    assert doc["metrics"]["trades"] == len(doc["trades"])
    code, _, err = cli(
        capsys,
        data_dir,
        "backtest",
        "ma_cross",
        "--symbol",
        "ORCL.US",
        "--symbol",
        "YHOO.US",
        "--grid",
        "fast=5,10",
    )
    assert code == 2 and "sweeps, --oos and --walk-forward run on one symbol" in err


def test_a_saved_run_reruns_exactly_on_its_snapshot_after_the_data_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from services.backtest.runs import RunStore

    orcl = str(REAL / "orcl-1995-2014.txt")
    assert main(["--data-dir", str(tmp_path), "data", "import", orcl, "--symbol", "X.US"]) == 0
    args = ["backtest", "ma_cross", "--symbol", "X.US", "--grid", "fast=5,10", "--save"]
    code, out, _ = cli(capsys, tmp_path, *args, "--oos", "0.3", "--json")
    saved = json.loads(out)
    assert code == 0 and saved["run_id"] == 1
    # the store's data changes under the run: another history replaces X.US
    assert main(["--data-dir", str(tmp_path), "data", "delete", "X.US"]) == 0
    nvda = str(REAL / "nvda-1999-2014.txt")
    assert main(["--data-dir", str(tmp_path), "data", "import", nvda, "--symbol", "X.US"]) == 0
    code, out, _ = cli(capsys, tmp_path, "backtest", "ma_cross", "--symbol", "X.US", "--json")
    assert json.loads(out)["start"] != saved["start"]  # the latest data is another series
    code, out, err = cli(capsys, tmp_path, "runs", "rerun", "1")
    assert code == 0, err
    assert f"run 1 reproduced exactly on snapshot {saved['snapshot']}" in out
    code, out, _ = cli(
        capsys, tmp_path, "backtest", "ma_cross", "--symbol", "X.US", "--json",
        "--as-of", saved["snapshot"], "--param", "fast=10",
    )  # fmt: skip
    assert json.loads(out)["start"] == saved["start"]
    runs = RunStore(tmp_path / "backtests.db")
    tampered = runs.load(1)
    tampered["metrics"]["sharpe"] = 9.99
    tampered.pop("run_id", None)
    bad = runs.save(tampered)
    code, _, err = cli(capsys, tmp_path, "runs", "rerun", str(bad))
    assert code == 1 and "sharpe: 9.99 → " in err
    code, _, err = cli(capsys, tmp_path, "backtest", "rsi", "--symbol", "X.US", "--as-of", "nope")
    assert code == 2 and "no snapshot 'nope' of the 1d bars" in err


def test_vnpy_exchange_names_work_from_import_to_backtest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ORCL.NASDAQ (vnpy's name) imports and backtests with the US market's rules, as ORCL.US
    does; an exchange quantdesk has no rules for is refused at import, with the message a
    backtest would give."""
    src = str(REAL / "orcl-1995-2014.txt")
    assert (
        main(["--data-dir", str(tmp_path), "data", "import", src, "--symbol", "ORCL.NASDAQ"]) == 0
    )
    code, out, err = cli(
        capsys, tmp_path, "backtest", "ma_cross", "--symbol", "ORCL.NASDAQ", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["markets"]["ORCL.NASDAQ"]["market"] == "US"
    code, _, err = cli(capsys, tmp_path, "data", "import", src, "--symbol", "ORCL.NOWHERE")
    assert code == 2 and "unsupported exchange in 'ORCL.NOWHERE'" in err and "NASDAQ" in err
