"""``quantdesk backtest STRATEGY --symbol SYMBOL …``: backtests, sweeps, out-of-sample.

Exit status: 0 done; 2 bad usage, config or parameters, or no bars for a
symbol. ``--json`` prints one JSON document on stdout (progress goes to
stderr, only on a terminal).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from console.config import Config
from console.data_cli import add_freq, day, locations
from services.backtest.spec import ADJUST_MODES, RunDoc, prices_line
from services.backtest.spec import format_value as _fmt

EXIT_USAGE = 2
err = Console(
    stderr=True, highlight=False, soft_wrap=True, markup=False
)  # messages quote [sections]
# Plain text, never markup: symbols, names and paths are printed as they are stored.
out = Console(
    highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200, markup=False
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from strategies import REGISTRY

    p = sub.add_parser(
        "backtest",
        parents=[locations()],
        help="backtest a strategy on stored bars (one run, a --grid sweep, --oos, --walk-forward)",
        description="Backtest a strategy on bars from the store. Signals on a bar fill at the "
        "next bar's open; A-share lots, minimum commission and stamp duty apply.",
    )
    p.add_argument(
        "strategy", choices=sorted(REGISTRY), metavar="STRATEGY", help=", ".join(sorted(REGISTRY))
    )
    p.add_argument(
        "--symbol", action="append", required=True, help="repeat for a portfolio sharing cash"
    )
    p.add_argument("--start", type=day, help="first bar traded (default: the first stored)")
    p.add_argument("--end", type=day, help="last bar traded (default: the last stored)")
    p.add_argument(
        "--adjust",
        choices=ADJUST_MODES,
        default="auto",
        help="pit: raw prices with dividends and bonus shares paid on their ex-dates, signals "
        "on back-adjusted prices (point in time); qfq/hfq: adjusted prices throughout; none: "
        "raw prices, no actions. Default auto: pit for A-shares, qfq for other markets",
    )
    add_freq(p)
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="K=V",
        help="a strategy parameter, e.g. fast=5 (repeat)",
    )
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="K=START:STOP:STEP",
        help="inclusive stop; or K=a,b,c",
    )
    p.add_argument(
        "--metric", default="sharpe", help="rank a sweep by this metric (default sharpe)"
    )
    p.add_argument("--fees", type=float, help="commission rate for every symbol (0.0003 = 3 bp)")
    p.add_argument("--cash", type=float, help="starting cash (default [backtest] init_cash)")
    p.add_argument(
        "--sizing",
        choices=("percent", "notional", "quantity"),
        help="how --size is read (default [backtest] sizing)",
    )
    p.add_argument(
        "--size", type=float, help="1.0 = all equity; cash for notional; shares for quantity"
    )
    p.add_argument(
        "--stop-loss", type=float, metavar="FRACTION", help="exit this fraction under the entry"
    )
    p.add_argument(
        "--take-profit", type=float, metavar="FRACTION", help="exit this fraction over the entry"
    )
    p.add_argument(
        "--trailing-stop",
        type=float,
        metavar="FRACTION",
        help="exit this fraction under the highest high since the entry",
    )
    p.add_argument(
        "--execute",
        choices=("next_open", "close"),
        help="a signal fills at the next bar's open or this bar's close (default next_open)",
    )
    p.add_argument(
        "--oos", type=float, metavar="FRACTION", help="keep this last fraction out of sample"
    )
    p.add_argument(
        "--walk-forward", metavar="TRAIN:TEST", help="rolling windows in bars, e.g. 500:125"
    )
    p.add_argument(
        "--as-of",
        metavar="SNAPSHOT",
        help="read the bars as a named store snapshot holds them (a saved run's, a sync's)",
    )
    p.add_argument(
        "--large-grid",
        action="store_true",
        help="run a sweep above [backtest] max_combinations (it says how much memory it needs)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--save", action="store_true", help="keep the run (see `quantdesk runs`)")
    p.add_argument(
        "--report", type=Path, metavar="FILE.html", help="write a self-contained HTML report"
    )


def add_runs_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = locations()
    p = sub.add_parser(
        "runs", parents=[common], help="saved backtests: list, show, compare, report"
    )
    cmds = p.add_subparsers(dest="runs_command", metavar="COMMAND")
    cmds.add_parser("list", parents=[common], help="the latest saved runs (the default)")
    show_ = cmds.add_parser(
        "show", parents=[common], help="one run's metrics (--json for the whole document)"
    )
    show_.add_argument("id", type=int, help="the run's number (quantdesk runs)")
    show_.add_argument("--json", action="store_true", help="the whole saved document")
    cmp = cmds.add_parser("compare", parents=[common], help="two runs side by side")
    cmp.add_argument("a", type=int, help="a run's number")
    cmp.add_argument("b", type=int, help="another run's number")
    again = cmds.add_parser(
        "rerun",
        parents=[common],
        help="run a saved run again on the snapshot it read; exit 1 if anything differs",
    )
    again.add_argument("id", type=int, help="the run's number")
    rep = cmds.add_parser("report", parents=[common], help="write a saved run's HTML report")
    rep.add_argument("id", type=int, help="the run's number")
    rep.add_argument("path", type=Path, metavar="FILE.html", help="where to write it")


def runs_command(args: argparse.Namespace, data_dir: Path, config: Config) -> int:
    from services.backtest.runs import RunStore, compare
    from services.store import StoreError

    try:
        store = RunStore(data_dir / "backtests.db")
        if args.runs_command == "rerun":
            return rerun(store.load(args.id), args.id, data_dir, config)
        if args.runs_command in (None, "list"):
            table = Table(
                "id", "saved", "strategy", "symbol", "params", "sharpe", "total return", box=None
            )
            for r in store.list():
                params = " ".join(f"{k}={v:g}" for k, v in r.params.items())
                table.add_row(
                    str(r.id),
                    r.created,
                    r.strategy,
                    r.symbol,
                    params,
                    _fmt("sharpe", r.metrics.get("sharpe")),
                    _fmt("total_return", r.metrics.get("total_return")),
                )
            out.print(table)
        elif args.runs_command == "show":
            doc = store.load(args.id)
            if args.json:
                print(json.dumps(_public(doc), separators=(",", ":")))
            else:
                show(doc)
        elif args.runs_command == "compare":
            a, b = store.load(args.a), store.load(args.b)
            table = Table("", f"run {args.a}", f"run {args.b}", box=None)
            for key, va, vb in compare(a, b):
                table.add_row(key, _fmt(key, va), _fmt(key, vb))
            out.print(table)
        else:
            from services.backtest.report import write_report
            from services.ops.paths import output_file

            output_file(args.path, "the report")  # before the run is loaded
            write_report(store.load(args.id), args.path)
            out.print(f"report written to {args.path}")
    except (ValueError, StoreError) as exc:
        err.print(f"quantdesk runs: {exc}")
        return EXIT_USAGE
    return 0


def rerun(saved: RunDoc, run_id: int, data_dir: Path, config: Config) -> int:
    """Run a saved run again on the snapshot it read, with the setup and market rules it
    recorded; 0 when every metric and trade is the same, 1 with the differences."""
    from dataclasses import replace

    from services.backtest.cache import enable_numba_cache, ensure_warm
    from services.backtest.request import execute
    from services.backtest.rules import FLAGS, MarketRules
    from services.backtest.runs import code_version, reproduce
    from services.backtest.spec import Request
    from services.store import Store

    if "request" not in saved or not saved.get("snapshot"):
        raise ValueError(
            f"run {run_id} was saved before runs kept their request: it cannot be rerun"
        )
    cache = enable_numba_cache(data_dir)
    setup = saved["setup"]
    request = replace(
        Request.from_doc(saved["request"]),
        as_of=saved["snapshot"],
        overrides={k: setup[k] for k in FLAGS},
    )
    per_day = 1 if request.freq == "1d" else config.backtest.minute_bars_per_day
    backtest = replace(config.backtest, trading_days=setup["ann_factor"] / per_day)
    rules = [MarketRules(**saved["markets"][s]) for s in request.symbols]
    store = Store.of(data_dir, config.store.uri)
    store.open()
    frames = {s: request.read_bars(store, s) for s in request.symbols}
    ensure_warm(cache, lambda what: err.print(f"quantdesk runs rerun: {what}…"))
    again = execute(request, frames.__getitem__, backtest, config.costs, rules=rules)
    now = code_version(request.strategy)
    if now != saved.get("code_version"):
        out.print(f"note: the code changed since the run: {saved.get('code_version')} → {now}")
    differences = reproduce(saved, again)
    if differences:
        err.print(f"run {run_id} on snapshot {saved['snapshot']} came out differently:")
        for line in differences:
            err.print(f"  {line}")
        return 1
    out.print(
        f"run {run_id} reproduced exactly on snapshot {saved['snapshot']}: the same "
        f"{len(again['metrics'])} metrics and {len(again['trades']):,} trades"
    )
    return 0


def request_from(args: argparse.Namespace) -> Any:
    from services.backtest.spec import Request, parse_axis, parse_pair, parse_windows

    overrides = {
        key: getattr(args, attr)
        for key, attr in (
            ("init_cash", "cash"),
            ("sizing", "sizing"),
            ("size", "size"),
            ("stop_loss", "stop_loss"),
            ("take_profit", "take_profit"),
            ("trailing_stop", "trailing_stop"),
            ("execute", "execute"),
        )
        if getattr(args, attr) is not None
    }
    return Request(
        strategy=args.strategy,
        symbols=tuple(args.symbol),
        start=args.start,
        end=args.end,
        adjust=args.adjust,
        freq=args.freq,
        params=dict(parse_pair(p, "--param") for p in args.param),
        grid=dict(parse_axis(g) for g in args.grid),
        metric=args.metric,
        fees=args.fees,
        overrides=overrides,
        oos=args.oos,
        walk_forward=parse_windows(args.walk_forward) if args.walk_forward else None,
        large_grid=args.large_grid,
        as_of=args.as_of,
    )


def run(args: argparse.Namespace, data_dir: Path, config: Config) -> int:
    from services.backtest.cache import enable_numba_cache, ensure_warm

    cache = enable_numba_cache(data_dir)
    from services.backtest import runs
    from services.backtest.request import execute
    from services.backtest.rules import checked_overrides
    from services.store import Store, StoreError

    if args.report:  # before the run: a report that cannot be written stops it now
        from services.ops.paths import PathError, output_file

        try:
            output_file(args.report, "the report")
        except PathError as exc:
            err.print(f"quantdesk backtest: {exc}")
            return EXIT_USAGE
    try:
        request = request_from(args)
        request.check()
        checked_overrides(config.backtest, request.overrides)
        store = Store.of(data_dir, config.store.uri)
        store.open()

        frames = {s: request.read_bars(store, s) for s in request.symbols}
        inputs = (
            runs.provenance(store, request.freq, request.strategy, request.as_of)
            if args.save or args.report
            else None
        )
        ensure_warm(cache, lambda what: err.print(f"quantdesk backtest: {what}…"))
        doc = execute(
            request, frames.__getitem__, config.backtest, config.costs, _progress(args.json)
        )
        if inputs is not None:
            runs.stamp(doc, inputs)
        if args.save:
            doc["run_id"] = runs.RunStore(data_dir / "backtests.db").save(doc)
        if args.report:
            from services.backtest.report import write_report

            write_report(doc, args.report)
    except (ValueError, StoreError) as exc:
        err.print(f"quantdesk backtest: {exc}")
        return EXIT_USAGE
    if args.json:
        print(json.dumps(_public(doc), separators=(",", ":")))
    else:
        show(doc)
        if args.report:
            out.print(f"report written to {args.report}")
    return 0


def _public(doc: RunDoc) -> dict[str, Any]:
    """The JSON document: equity and drawdown curves are for the pane and the report."""
    return {k: v for k, v in doc.items() if k not in ("equity", "drawdown", "heatmap")}


def show(doc: RunDoc) -> None:
    """A short human summary: metrics, the best of a sweep, out-of-sample."""
    params = " ".join(f"{k}={v:g}" for k, v in doc["params"].items())
    warm = doc.get("warmup_bars", 0)
    out.print(
        Text.assemble(
            (doc["strategy"], "bold"),
            f" {doc['symbol']} {doc['start']} → {doc['end']}  {params}",
            f"  (indicators warmed up on {warm:,} earlier bars)" if warm else "",
        )
    )
    if doc.get("adjusted"):
        out.print(prices_line(doc))
    table = Table("metric", "in sample" if "oos" in doc else "value", box=None)
    if "oos" in doc:
        table.add_column(f"out of sample (from {doc['oos']['start']})")
    for name, value in doc["metrics"].items():
        row = [name, _fmt(name, value)]
        if "oos" in doc:
            row.append(_fmt(name, doc["oos"]["metrics"][name]))
        table.add_row(*row)
    out.print(table)
    if "sweep" in doc:
        top = Table(
            *doc["sweep"][0]["params"],
            *doc["sweep"][0]["metrics"],
            box=None,
            title=f"best {min(10, len(doc['sweep']))} of {len(doc['sweep'])}",
        )
        for entry in doc["sweep"][:10]:
            top.add_row(
                *(f"{v:g}" for v in entry["params"].values()),
                *(_fmt(k, v) for k, v in entry["metrics"].items()),
            )
        out.print(top)
        sens = doc["sensitivity"]
        if sens["hold"] is not None:
            out.print(
                f"sensitivity: {sens['neighbours']} neighbours average {sens['mean']:.3f} "
                f"(best {sens['best']:.3f}, hold {sens['hold']:.2f})"
            )
    if "walk_forward" in doc:
        wf = doc["walk_forward"]
        out.print(
            f"walk-forward {wf['train']}:{wf['test']}: {len(wf['windows'])} windows; "
            "stitched out-of-sample:"
        )
        out.print("  " + "  ".join(f"{k} {_fmt(k, v)}" for k, v in wf["metrics"].items()))
    n = len(doc["trades"])
    out.print(f"{n:,} closed trade{'' if n == 1 else 's'}")
    if "run_id" in doc:
        out.print(f"saved as run {doc['run_id']}")


def _progress(quiet: bool) -> Any:
    if quiet or not sys.stderr.isatty():
        return None

    def report(done: int, total: int, what: str) -> None:
        err.print(f"\r{what} …", end="")

    return report
