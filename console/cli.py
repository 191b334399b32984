"""``quantdesk``: start the console on the embedded default (simulated market, paper account).

Errors in the command line, the config file or the data directory are
reported in one line on stderr, before the TUI starts, with exit status 2 —
never as a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from console.config import (
    Config,
    ConfigError,
    load_config,
    resolve_config_path,
    resolve_data_dir,
)

EXIT_USAGE = 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from console import backtest_cli, data_cli, ops_cli

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
    parser.add_argument("--version", action="version", version="quantdesk 0.1.0")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    data_cli.add_parser(commands)
    backtest_cli.add_parser(commands)
    backtest_cli.add_runs_parser(commands)
    ops_cli.add_parsers(commands)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data_dir = resolve_data_dir(args.data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        config = load_config(resolve_config_path(args.config, data_dir))
    except ConfigError as exc:
        print(f"quantdesk: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"quantdesk: cannot use data directory {data_dir}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "data":
        from console import data_cli
        from services.logs import setup_file_logging

        setup_file_logging(data_dir)
        return data_cli.run(args, data_dir, config)
    if args.command == "backtest":
        from console import backtest_cli
        from services.logs import setup_file_logging

        setup_file_logging(data_dir)
        return backtest_cli.run(args, data_dir, config)
    if args.command in ("halt", "state", "journal"):
        from console import ops_cli

        return ops_cli.run(args, data_dir, config)
    if args.command == "runs":
        from console import backtest_cli

        return backtest_cli.runs_command(args, data_dir)
    return run_console(data_dir, config, headless=args.headless)


def run_console(data_dir: Path, config: Config, headless: bool = False) -> int:
    # Imported here so that --help and config errors answer without loading the UI.
    from services.journal import JournalError
    from services.logs import BusLogHandler, setup_file_logging
    from services.runtime import build_services
    from services.watchlist import WatchlistStore

    log_path = setup_file_logging(data_dir)
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
        )
    except JournalError as exc:
        print(f"quantdesk: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logging.getLogger().addHandler(BusLogHandler(services.bus))
    logging.getLogger("quantdesk").info(
        "quantdesk starting%s: data %s, config %s, log %s",
        " headless" if headless else "",
        data_dir,
        config.source,
        log_path,
    )
    if headless:
        from console.ops_cli import run_headless

        return run_headless(data_dir, config, services)
    from console.app import QuantdeskApp

    watchlist = WatchlistStore(
        data_dir / "watchlist.json", config.watchlist.symbols, services.universe
    )
    app = QuantdeskApp(services, config, watchlist)
    app.run()
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
