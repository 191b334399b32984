"""``quantdesk data …``: sync, import, show, status, check and demo history.

Exit status: 0 every row stored (or already there); 2 bad usage, config or
input file; 3 rows were quarantined (everything else stored); 4 a download
failed for one or more symbols (the others were stored).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from console.config import Config
from services.clock import cst
from services.data.bars import FREQS
from services.data.csvdates import check_spacing
from services.data.csvio import ImportError_, parse_mapping, read_csv
from services.data.recent import FOLD_DAYS
from services.data.sources import kind_of, make_source
from services.data.symbols import check_symbol, market_tz
from services.data.sync import EXIT_OK, EXIT_QUARANTINED, Syncer, resolve_universe
from services.data.validate import validate
from services.ops.redact import redact
from services.store import Store, StoreError

EXIT_USAGE = 2
# Piped output (other tools, logs) is not cut at 80 columns.
WIDTH = None if sys.stdout.isatty() else 200
err = Console(stderr=True, highlight=False, soft_wrap=True, width=WIDTH, markup=False)
out = Console(highlight=False, soft_wrap=True, width=WIDTH, markup=False)  # shown as stored


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = locations()
    data = sub.add_parser("data", help="market data: sync, import, show, status, check, demo")
    cmds = data.add_subparsers(dest="data_command", required=True, metavar="COMMAND")

    def command(name: str, help_: str) -> argparse.ArgumentParser:
        return cmds.add_parser(name, help=help_, parents=[common])

    sync = command("sync", "download history into the store (incremental)")
    sync.add_argument(
        "--universe",
        default=None,
        help="demo, a name from [universes], or codes: 600519,000001.SZSE",
    )
    add_freq(sync)
    sync.add_argument("--start", type=day, help="first day (default: after the stored data)")
    sync.add_argument("--end", type=day, help="last day (default: today)")
    sync.add_argument(
        "--source",
        choices=("akshare", "tushare", "yfinance", "demo"),
        default=None,
        help="where to download from (default: [data] source)",
    )
    imp = command("import", "load a CSV file (Yahoo, AkShare, minute, or --map)")
    imp.add_argument("path", type=Path, help="the CSV file")
    imp.add_argument("--symbol", required=True, help="e.g. 600519.SSE or ORCL.US")
    add_freq(imp)
    imp.add_argument("--map", dest="mapping", help="datetime=COL,open=COL,high=COL,...")
    imp.add_argument(
        "--date-format",
        help="strftime format of the date column, e.g. %%d-%%m-%%Y; needed when day-first and "
        "month-first readings both fit",
    )
    show = command("show", "print bars (table, or CSV for other tools)")
    show.add_argument("symbol", help="e.g. 600519.SSE")
    add_freq(show)
    show.add_argument("--start", type=day, help="first day (default: the first stored)")
    show.add_argument("--end", type=day, help="last day (default: the last stored)")
    add_adjust(show, "none")
    show.add_argument(
        "--format", choices=("table", "csv"), default="table", help="a table, or CSV for tools"
    )
    show.add_argument("--tail", type=int, default=20, help="rows in table format (0 = all)")
    command("status", "symbols, ranges, rows, last sync, open issues")
    check = command("check", "re-validate stored bars")
    check.add_argument("symbol", nargs="?", help="one symbol (default: every stored one)")
    add_freq(check)
    delete = command("delete", "remove a symbol's stored bars (e.g. demo bars before a real sync)")
    delete.add_argument("symbol", help="e.g. 600519.SSE")
    add_freq(delete)
    command("demo", "write synthetic history for the demo universe (offline)")


def locations() -> argparse.ArgumentParser:
    """A parent parser with --data-dir and --config, so they also work after a command
    (SUPPRESS keeps the top-level value when they are not repeated there)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="data directory (default: $QUANTDESK_DATA_DIR or ~/.local/share/quantdesk)",
    )
    common.add_argument(
        "--config",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="config file (default: $QUANTDESK_CONFIG or <data dir>/config.toml)",
    )
    return common


def add_freq(parser: argparse.ArgumentParser) -> None:
    """The --freq option of the data and backtest commands."""
    parser.add_argument(
        "--freq", choices=FREQS, default="1d", help="daily (1d, default) or minute (1m) bars"
    )


def add_adjust(parser: argparse.ArgumentParser, default: str) -> None:
    """The --adjust option of ``data show`` and ``backtest`` (their defaults differ)."""
    parser.add_argument(
        "--adjust",
        choices=("none", "qfq", "hfq"),
        default=default,
        help="prices: raw (none), forward- (qfq, 前复权) or back-adjusted (hfq, 后复权); "
        f"default {default}",
    )


def day(text: str) -> date:
    """An argparse type for a YYYY-MM-DD day (the data, backtest and journal commands)."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2024-01-31, got {text!r}") from None


def run(args: argparse.Namespace, data_dir: Path, config: Config) -> int:
    store = Store.of(data_dir, config.store.uri)
    try:
        store.open()
        command = args.data_command
        if command == "sync":
            return _sync(args, store, config)
        if command == "demo":
            return _demo(store, config)
        if command == "import":
            return _import(args, store)
        if command == "show":
            return _show(args, store)
        if command == "status":
            return _status(store)
        if command == "delete":
            return _delete(args, store)
        return _check(args, store)
    except (StoreError, ImportError_, ValueError) as exc:
        err.print(f"quantdesk data: {exc}")
        return EXIT_USAGE


def _sync(args: argparse.Namespace, store: Store, config: Config) -> int:
    symbols = resolve_universe(args.universe or config.data.universe, config.universes)
    source = make_source(
        args.source or config.data.source,
        config.fetch,
        config.sim.start_at.date(),
        config.data.tushare_url,
        prompt=True,
    )
    syncer = Syncer(store, source, config.data)
    with Progress(
        TextColumn("[bold]sync {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(f"{args.freq} from {source.name}", total=len(symbols))
        summary = syncer.sync(
            symbols,
            args.freq,
            start=args.start,
            end=args.end,
            progress=lambda n, total, outcome: bar.update(
                task, completed=n, description=outcome.vt_symbol
            ),
        )
    for line in summary.lines():
        (err if line.startswith("FAILED") else out).print(line)
    return summary.exit_code


def _demo(store: Store, config: Config) -> int:
    from services.data.sources.demo import DemoSource

    end = config.sim.start_at.date()
    codes = 0
    for freq in FREQS:
        summary = Syncer(store, DemoSource(end), config.data).sync(
            resolve_universe("demo"), freq, end=end
        )
        codes = max(codes, summary.exit_code)
        for line in summary.lines():
            out.print(line)
    return codes


def _import(args: argparse.Namespace, store: Store) -> int:
    check_symbol(args.symbol)  # nothing unshowable is ever stored
    kind_of(args.symbol)  # an exchange a backtest has no rules for is refused here, not later
    mapping = parse_mapping(args.mapping) if args.mapping else None
    a_share = args.symbol.rsplit(".", 1)[-1] in ("SSE", "SZSE", "BSE")
    with Progress(
        TextColumn(f"reading {args.path.name}", style="bold", markup=False),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task("read", total=None)
        parsed = read_csv(
            args.path,
            mapping,
            a_share=a_share,
            date_format=args.date_format,
            progress=lambda done, size: bar.update(task, completed=done, total=size),
            tz=market_tz(args.symbol),
        )
    spacing = check_spacing(parsed.bars.index, args.freq)
    if spacing:
        err.print(f"quantdesk data: {args.path}: {spacing}; nothing was stored")
        return EXIT_USAGE
    result = store.write_bars(
        args.symbol,
        args.freq,
        parsed.bars,
        source=f"csv:{args.path.name}",
        factors=parsed.factors or None,
        rejects=parsed.rejects,
    )
    out.print(f"{args.path.name} ({parsed.layout}): {result.summary()}")
    for note in parsed.notes:
        out.print(f"note: {note}")
    if result.quarantined:
        err.print(f"{result.quarantined} rows quarantined: `quantdesk data status` lists them")
        return EXIT_QUARANTINED
    return EXIT_OK


def _show(args: argparse.Namespace, store: Store) -> int:
    frame = store.read_bars(args.symbol, args.freq, args.start, args.end, args.adjust)
    if args.format == "csv":
        stamp = "date" if args.freq == "1d" else "datetime"
        frame = frame[["open", "high", "low", "close", "volume"]].copy()
        if (frame["volume"] % 1 == 0).all():
            frame["volume"] = frame["volume"].astype("int64")
        fmt = "%Y-%m-%d" if args.freq == "1d" else "%Y-%m-%d %H:%M:%S"
        frame.to_csv(sys.stdout, index_label=stamp, date_format=fmt)
        return EXIT_OK
    shown = frame.tail(args.tail) if args.tail else frame
    left_out = len(frame) - len(shown)
    title = f"{args.symbol} {args.freq} ({args.adjust}) — {len(frame):,} bars"
    if left_out:
        title += (
            f", the last {len(shown):,} shown ({left_out:,} earlier left out: --tail 0 shows all)"
        )
    table = Table(title=title)
    table.add_column("date" if args.freq == "1d" else "datetime")
    for column in ("open", "high", "low", "close", "volume"):
        table.add_column(column, justify="right")
    for stamp, row in shown.iterrows():
        when = stamp.strftime("%Y-%m-%d" if args.freq == "1d" else "%Y-%m-%d %H:%M")
        table.add_row(
            when,
            *(
                f"{row[c]:,.0f}" if c == "volume" else f"{row[c]:.4f}"
                for c in ("open", "high", "low", "close", "volume")
            ),
        )
    out.print(table)
    return EXIT_OK


def _delete(args: argparse.Namespace, store: Store) -> int:
    if not store.delete(args.symbol, args.freq):
        err.print(f"quantdesk data: no {args.freq} bars for {args.symbol} in the store")
        return EXIT_USAGE
    out.print(f"deleted the {args.freq} bars of {args.symbol} (earlier snapshots keep them)")
    return EXIT_OK


def _status(store: Store) -> int:
    table = Table(title=f"store {redact(store.uri)}")
    for column in ("symbol", "freq", "first", "last", "rows", "last sync", "source", "issues"):
        table.add_column(
            column, justify="right" if column == "rows" else "left", no_wrap=column != "issues"
        )
    count = 0
    for freq in FREQS:
        for symbol in store.symbols(freq):
            meta = store.meta(symbol, freq)
            if meta is None:
                continue
            count += 1
            issues = [f"{rule} {n}" for rule, n in sorted(meta.issues.items())]
            if meta.gaps:
                issues.append(f"gaps {len(meta.gaps)}")
            width = 10 if freq == "1d" else 16
            table.add_row(
                symbol,
                freq,
                meta.first[:width].replace("T", " "),
                meta.last[:width].replace("T", " "),
                f"{meta.rows:,}",
                meta.last_sync[5:16].replace("T", " "),
                meta.source,
                ", ".join(issues) or "—",
            )
    if count == 0:
        out.print("the store is empty: `quantdesk data demo` or `quantdesk data sync`")
        return EXIT_OK
    out.print(table)
    held = store.recent.held()
    if held.entries:  # shown above as stored; said here so a look at bars_1d is not a surprise
        out.print(
            f"the latest daily rows of {len(held.entries)} symbols "
            f"({_count(held.frame.index.nunique(), 'date')}) are held together and folded "
            "into each "
            f"symbol's history every {FOLD_DAYS} dates"
        )
    return EXIT_OK


def _check(args: argparse.Namespace, store: Store) -> int:
    symbols = [args.symbol] if args.symbol else store.symbols(args.freq)
    calendar = store.calendar() if args.freq == "1d" else None
    found = 0
    for symbol in symbols:
        meta = store.meta(symbol, args.freq)
        if meta is None:
            raise StoreError(f"no {args.freq} bars for {symbol} in the store")
        bars = store.read_bars(symbol, args.freq)
        report = validate(
            bars,
            symbol,
            args.freq,
            calendar=calendar,
            name=meta.name,
            factor_dates=frozenset(d for d, _ in meta.factor_list()),
            suspensions=frozenset(date.fromisoformat(d) for d in meta.suspensions),
        )
        problems = len(report.quarantined) + len(report.gaps)
        found += problems
        out.print(
            f"{symbol} {args.freq}: {len(bars):,} bars, "
            + (
                report.summary().replace(f"{len(report.clean)} stored", "ok")
                if problems or report.notes
                else "ok"
            )
        )
    out.print(f"checked {len(symbols)} symbols at {cst(datetime.now(), '%Y-%m-%d %H:%M')}")
    return EXIT_QUARANTINED if found else EXIT_OK


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
