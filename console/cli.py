"""``quantdesk``: start the console on the embedded default (simulated market, paper account).

Errors in the command line, the config file or the data directory are
reported in one line on stderr, before the TUI starts, with exit status 2 —
never as a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from console.config import (
    Config,
    ConfigError,
    load_config,
    resolve_config_path,
)
from services.ops.datadir import resolve_data_dir
from services.ops.modes import CLI_MODES, LIVE

if TYPE_CHECKING:
    from collections.abc import Sequence

    from services.alerts.wiring import Alerting
    from services.trading.accounts import LiveAccount

EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 141


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = build_parser()
    commands = next(
        set(a.choices) for a in parser._actions if isinstance(a, argparse._SubParsersAction)
    )
    return parser.parse_args(_replay_file(sys.argv[1:] if argv is None else argv, commands))


def _replay_file(argv: list[str], commands: set[str]) -> list[str]:
    """``--mode replay FILE`` (as the README writes it) is ``--recording FILE``; a word
    after ``replay`` that names a command (``--mode replay state``) stays a command."""
    out = list(argv)
    for i, arg in enumerate(out[:-2]):
        if (arg, out[i + 1]) == ("--mode", "replay") and not out[i + 2].startswith("-"):
            if out[i + 2] not in commands:
                out[i + 2 : i + 2] = ["--recording"]
            break
    return out


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: the console's options and every command's."""
    from console import (
        account_cli,
        alerts_cli,
        backtest_cli,
        backup_cli,
        data_cli,
        doctor_cli,
        ops_cli,
    )

    parser = argparse.ArgumentParser(
        prog="quantdesk",
        description="Keyboard-driven trading console. Starts on a simulated market and a paper "
        "account; press ? inside for every key. `quantdesk data --help` for market data.",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="data directory (default: $QUANTDESK_DATA_DIR or ~/.local/share/quantdesk)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="config file (default: $QUANTDESK_CONFIG or <data dir>/config.toml)",
    )
    parser.add_argument(
        "--headless",
        action="store_true",
        help="run the services and scheduled jobs without the UI, until SIGTERM (for systemd)",
    )
    parser.add_argument(
        "--mode",
        choices=CLI_MODES,
        help="demo (simulated market), paper (real quotes, paper fills) or replay FILE "
        "(a recording), or live with --account ID (a broker account; you confirm by "
        "typing its id; repeat --account to trade several); default: [app] mode. Each "
        "mode keeps its own account",
    )
    parser.add_argument(
        "--account",
        metavar="ID",
        action="append",
        default=[],
        help="an [[accounts]] id to trade with --mode live; repeat for several accounts, "
        "each with its own journal, limits and HALT (the first gets the strategies)",
    )
    parser.add_argument("--recording", metavar="FILE", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        metavar="N",
        help="replay speed: 1 real time (default), 10 ten times faster, 0 as fast as possible",
    )
    parser.add_argument(
        "--version", action="version", version="quantdesk 0.1.0", help="print the version"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    data_cli.add_parser(commands)
    backtest_cli.add_parser(commands)
    backtest_cli.add_runs_parser(commands)
    ops_cli.add_parsers(commands)
    ops_cli.add_secrets_parser(commands)
    account_cli.add_parser(commands)
    backup_cli.add_parsers(commands)
    doctor_cli.add_parser(commands)
    alerts_cli.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The ``quantdesk`` command. Output piped into ``head`` ends quietly when the reader
    closes the pipe (exit status 141, as ``cat`` gives: 128 + SIGPIPE), never in a
    BrokenPipeError traceback."""
    from services.ops.redact import RedactingStream

    out, err = sys.stdout, sys.stderr
    # Every message a command prints passes the secrets' mask (a source's refusal that
    # echoes a token, say); the console itself draws through sys.__stderr__.
    sys.stdout, sys.stderr = RedactingStream(out), RedactingStream(err)
    try:
        return _main(argv)
    except BrokenPipeError:
        # Python flushes stdout again at exit: point it at /dev/null so that flush is quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    finally:
        sys.stdout, sys.stderr = out, err


def _main(argv: list[str] | None) -> int:
    from services.ops.datadir import DataDirUnusable, check_usable, make_private
    from services.ops.paths import PathError, folder
    from services.ops.redact import redact

    os.umask(0o077)  # the journal, config, logs and saved runs are the trader's alone
    args = parse_args(argv)
    data_dir = resolve_data_dir(args.data_dir)
    try:
        folder(data_dir, "the data directory")
        if args.command != "restore":  # a restore with --force is what mends one cut short
            check_usable(data_dir)
        make_private(data_dir)
        config = load_config(resolve_config_path(args.config, data_dir))
    except (DataDirUnusable, PathError) as exc:
        print(f"quantdesk: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as exc:
        print(f"quantdesk: config error: {redact(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"quantdesk: cannot use data directory {data_dir}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "data":
        from console import data_cli
        from services.ops.logs import setup_file_logging

        setup_file_logging(data_dir)
        return data_cli.run(args, data_dir, config)
    if args.command == "backtest":
        from console import backtest_cli
        from services.ops.logs import setup_file_logging

        setup_file_logging(data_dir)
        return backtest_cli.run(args, data_dir, config)
    if args.command == "accounts":
        from console import account_cli

        return account_cli.list_accounts(data_dir, config)
    if args.command == "reconcile":
        from console import account_cli
        from services.ops.logs import setup_file_logging

        setup_file_logging(data_dir)
        return account_cli.run(args, data_dir, config)
    if args.command == "alerts":
        from console import alerts_cli

        return alerts_cli.run(args, data_dir, config)
    if args.command == "doctor":
        from console import doctor_cli

        return doctor_cli.run(args, data_dir, config)
    if args.command in ("backup", "restore"):
        from console import backup_cli

        if args.command == "backup":
            return backup_cli.run_backup(args, data_dir, config)
        return backup_cli.run_restore(args, data_dir)
    if args.command == "secrets":
        from console import ops_cli

        return ops_cli.run_secrets(args)
    mode = getattr(args, "mode", None) or config.app.mode
    if args.command in ("halt", "state", "journal"):
        from console import ops_cli

        return ops_cli.run(args, data_dir, config, mode)
    if args.command == "runs":
        from console import backtest_cli

        return backtest_cli.runs_command(args, data_dir, config)
    if args.command == "record":
        if args.from_bars is not None:
            from console import ops_cli

            symbols = args.symbols.split(",") if args.symbols else None
            return ops_cli.record_from_bars(data_dir, config, args.from_bars, symbols)
        quiet = replace(config, strategies=())  # recording only: nothing proposes orders
        return run_console(data_dir, quiet, headless=True, mode="paper", record=True)
    if mode == "replay" and args.recording is None:
        print(
            "quantdesk: replay needs a recording: quantdesk --mode replay FILE [--speed N] "
            f"(recordings are in {data_dir / 'recordings'})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.recording is not None and mode != "replay":
        print("quantdesk: a recording is only played with --mode replay", file=sys.stderr)
        return EXIT_USAGE
    if not 0 <= args.speed <= 1000:
        print(f"quantdesk: --speed must be 0-1000, got {args.speed:g}", file=sys.stderr)
        return EXIT_USAGE
    if mode == "replay":
        problem = _unreadable_recording(args.recording)
        if problem:
            print(f"quantdesk: {problem}", file=sys.stderr)
            return EXIT_USAGE
    accounts: list[LiveAccount] = []
    if mode == LIVE:
        accounts, problem = _live_accounts(config, args.account, args.headless)
        if not accounts:
            print(f"quantdesk: {problem}", file=sys.stderr)
            return EXIT_USAGE
    elif args.account:
        print("quantdesk: --account is for --mode live", file=sys.stderr)
        return EXIT_USAGE
    return run_console(
        data_dir,
        config,
        headless=args.headless,
        mode=mode,
        replay=args.recording,
        speed=args.speed,
        accounts=accounts,
    )


def _live_accounts(
    config: Config, wanted: list[str], headless: bool
) -> tuple[list[LiveAccount], str]:
    """The accounts to trade live, each confirmed by the trader typing its id; or why not."""

    from console.account_cli import secret_reader
    from services.trading.accounts import LiveAccount
    from services.venues.accounts import AccountError

    specs = {a.id: a for a in config.accounts}
    listed = ", ".join(specs) or f"none in {config.source}: add [[accounts]]"
    if not wanted:
        return [], f"live mode trades the accounts you name: --account ID ({listed})"
    unknown = [a for a in wanted if a not in specs]
    if unknown:
        return [], f"no account {unknown[0]!r} in {config.source} ({listed})"
    if len(set(wanted)) != len(wanted):
        return [], "each account is named once"
    chosen = [specs[a] for a in wanted]
    if len({s.quotes for s in chosen}) > 1:
        return [], "accounts traded together share one quote source: set the same quotes"
    if headless or not (sys.stdin.isatty() and sys.stdout.isatty()):
        return [], "live trading is confirmed at a terminal: run it interactively"
    for spec in chosen:
        where = (
            "the built-in paper broker (no money)"
            if spec.gateway == "paper"
            else f"the broker of account {spec.id} ({spec.gateway})"
        )
        print(
            f"LIVE TRADING: orders of account {spec.id} will go to {where}.\n"
            "Type the account id to go on: ",
            end="",
            flush=True,
        )
        if input().strip() != spec.id:
            return [], "not confirmed: nothing was started"
    try:
        return [LiveAccount.load(spec, secret_reader()) for spec in chosen], ""
    except AccountError as exc:
        return [], str(exc)


def _open_alerting(config: Config, data_dir: Path) -> tuple[Alerting | None, str]:
    """The alert channels' URLs and the bot's token from the keyring, and an outbox that
    can be trusted, before anything starts; or why quantdesk cannot start with the
    alerts it is told to send."""
    if not (config.alerts.channels or config.telegram.control):
        return None, ""
    from services.alerts.outbox import FILE, check_outbox

    problem = check_outbox(data_dir / FILE)
    if problem:
        return None, problem
    from console.account_cli import secret_reader
    from services.alerts.channels import ChannelError
    from services.alerts.wiring import open_alerting
    from services.ops.secrets import SecretsError

    try:
        return open_alerting(config.alerts, config.telegram, secret_reader()), ""
    except (ChannelError, SecretsError) as exc:
        return None, f"{exc} (config {config.source})"


def _unreadable_recording(path: Path) -> str:
    """Why ``path`` cannot be replayed, or "" (its first record is read now, not later)."""
    from services.feed.source import RecordingError, read_recording
    from services.ops.paths import reason

    try:
        next(iter(read_recording(path)))
    except FileNotFoundError:
        return f"no recording at {path}"
    except StopIteration:
        return f"{path} holds no polls"
    except OSError as exc:
        return f"cannot read the recording {path}: {reason(exc)}"
    except RecordingError as exc:
        return str(exc)
    return ""


def needs_terminal() -> str:
    """Why the console cannot start here ("" when it can): it draws on a terminal and
    reads keys from one; into a pipe (``quantdesk | head``) it would wait there."""
    if sys.stdin.isatty() and sys.stdout.isatty():
        return ""
    what = "output" if not sys.stdout.isatty() else "input"
    return (
        f"the console needs a terminal, and its {what} is not one (a pipe or a file): run "
        "it in a terminal (over ssh: ssh -t). Without a screen: quantdesk --headless; the "
        "account as text: quantdesk state"
    )


def run_console(
    data_dir: Path,
    config: Config,
    headless: bool = False,
    *,
    mode: str = "demo",
    replay: Path | None = None,
    speed: float = 1.0,
    record: bool = False,
    accounts: Sequence[LiveAccount] = (),
) -> int:
    # Imported here so that --help and config errors answer without loading the UI.
    from console.config import instruments_for
    from services.ops.control_server import ControlChannelError
    from services.ops.datadir import DataDirBusy, DataDirLock
    from services.ops.logs import BusLogHandler, setup_file_logging
    from services.ops.watchlist import WatchlistStore
    from services.records.journal import JournalError
    from services.runtime import build_services

    try:
        lock = DataDirLock(data_dir).acquire()
    except DataDirBusy as exc:
        print(f"quantdesk: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(
            f"quantdesk: cannot write to the data directory {data_dir} ({exc.strerror}): the "
            "console needs a writable one to trade; `quantdesk state` and `quantdesk journal "
            "export` read a read-only copy",
            file=sys.stderr,
        )
        return EXIT_USAGE
    problem = "" if headless else needs_terminal()
    if problem:  # after the lock: a second start hears first that one already runs
        lock.release()
        print(f"quantdesk: {problem}", file=sys.stderr)
        return EXIT_USAGE
    alerting, problem = _open_alerting(config, data_dir)
    if problem:
        lock.release()
        print(f"quantdesk: {problem}", file=sys.stderr)
        return EXIT_USAGE
    log_path = setup_file_logging(data_dir)
    # What is listed: the simulated market's names, or (real quotes) any A-share.
    simulated = mode == "demo" or any(a.spec.quotes == "sim" for a in accounts)
    listing = "demo" if simulated else "paper" if mode == LIVE else mode
    try:
        services = build_services(
            data_dir,
            sim=config.sim,
            costs=config.costs,
            account=config.account,
            store=config.store.uri,
            data=config.data,
            fetch=config.fetch,
            jobs=config.jobs,
            universes=config.universes,
            backtest=config.backtest,
            risk=config.risk,
            strategies=list(config.strategies),
            review=config.review,
            mode=mode,
            feed=replace(config.feed, record=True) if record else config.feed,
            replay=replay,
            speed=speed,
            instruments=instruments_for(replace(config, app=replace(config.app, mode=listing))),
            accounts=accounts,
            backup=config.backup,
            monitor=config.monitor,
            metrics=config.metrics,
            config_file=config.file,
            alerting=alerting,
        )
    except JournalError as exc:
        print(f"quantdesk: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        services.open_control()
        if services.metrics is not None:
            services.metrics.start()
    except (ControlChannelError, OSError) as exc:
        services.stop()
        print(f"quantdesk: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logging.getLogger().addHandler(BusLogHandler(services.bus))
    logging.getLogger("quantdesk").info(
        "quantdesk starting in %s mode%s: data %s, config %s, log %s",
        mode,
        " headless" if headless else "",
        data_dir,
        config.source,
        log_path,
    )
    watchlist = WatchlistStore(
        data_dir / "watchlist.json",
        config.watchlist.symbols,
        services.universe,
        extend=None if simulated else services.add_symbol,
    )
    services.watched = set(watchlist.load())  # what the live feed polls, with or without a UI
    if headless:
        from console.ops_cli import run_headless

        try:
            return run_headless(data_dir, config, services)
        finally:
            lock.release()
    from console.app import QuantdeskApp

    app = QuantdeskApp(services, config, watchlist)
    try:
        app.run()
    finally:
        lock.release()
    if services.control.journal_error:
        print(
            f"quantdesk: stopped after a journal write failed: {services.control.journal_error}",
            file=sys.stderr,
        )
        return 1
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
