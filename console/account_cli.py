"""``quantdesk accounts`` and ``quantdesk reconcile``: broker accounts from the shell."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from console.config import Config
from console.data_cli import locations

EXIT_USAGE, EXIT_HALTED = 2, 5


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub.add_parser(
        "accounts",
        parents=[locations()],
        help="the [[accounts]] in config: gateway (installed or not), quotes, journal state",
    )
    rec = sub.add_parser(
        "reconcile",
        parents=[locations()],
        help="compare an account's journal with its broker (cash, positions, orders, "
        "trades); adopt what the broker knows, halt the account on a difference",
    )
    rec.add_argument("--account", required=True, help="an id from [[accounts]] in config")
    rec.add_argument("--json", action="store_true", help="one JSON document")
    rec.add_argument("--timeout", type=float, default=10.0, help="seconds to connect (default: 10)")


def list_accounts(data_dir: Path, config: Config) -> int:
    """One line per account: what it is, whether its gateway imports, and its journal."""
    from services.records.journal import Journal, JournalError
    from services.venues.accounts import AccountError, account_dir, gateway_class

    if not config.accounts:
        print(f"no [[accounts]] in {config.source}: see README, Live trading")
        return 0
    for spec in config.accounts:
        try:
            gateway_class(spec)
            gateway = "installed"
        except AccountError as exc:
            gateway = str(exc).split(": ", 1)[-1]
        path = account_dir(data_dir, spec.id) / "journal.sqlite3"
        if not path.exists():
            journal = "no journal yet (first reconciliation opens it)"
        else:
            try:
                record = Journal(path, readonly=True)
                saved = record.trading_state()
                record.close()
                journal = f"trading {saved[0] if saved else 'ACTIVE'}"
            except JournalError as exc:
                journal = str(exc)
        print(f"{spec.id}: {spec.gateway} ({gateway}); quotes {spec.quotes}; {journal}")
    return 0


def run(args: argparse.Namespace, data_dir: Path, config: Config) -> int:
    from services.accounting.statement import StatementError
    from services.bus import Bus
    from services.ops.datadir import DataDirBusy, DataDirLock
    from services.records.journal import Journal, JournalError
    from services.trading.accounts import connect, reconcile_account, retire, statement_of
    from services.trading.control import TradingControl
    from services.venues.accounts import AccountError, BrokerUnavailable, account_dir

    spec = next((a for a in config.accounts if a.id == args.account), None)
    if spec is None:
        known = ", ".join(a.id for a in config.accounts) or "none configured"
        print(
            f"quantdesk: no account {args.account!r} in {config.source} ([[accounts]]: {known})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    bus = Bus()
    bus.start()
    gateway = None
    try:
        with DataDirLock(data_dir):  # the running console reconciles its own accounts
            gateway = connect(spec, bus, secret_reader(), args.timeout)
            statement = statement_of(gateway)
            folder = account_dir(data_dir, spec.id)
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            journal = Journal(folder / "journal.sqlite3")
            try:
                result = reconcile_account(journal, statement, TradingControl(journal, bus).halt)
            finally:
                journal.close()
    except StatementError as exc:  # HALTed: the account's next start comes up HALTED
        _halt_on(data_dir, spec.id, f"account {spec.id}: {exc}")
        print(f"quantdesk: {exc}: account {spec.id} HALTED", file=sys.stderr)
        return EXIT_HALTED
    except (AccountError, BrokerUnavailable, DataDirBusy, JournalError) as exc:
        print(f"quantdesk: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if gateway is not None:
            retire(gateway, bus)
        bus.stop()
    if args.json:
        doc = {"account": spec.id, "halted": result.halt, "lines": result.lines()}
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        for line in result.lines():
            print(line)
        print(
            f"account {spec.id}: HALTED, {len(result.differences)} unexplained difference(s) "
            "with the broker (see above)"
            if result.halt
            else f"account {spec.id}: the journal agrees with the broker "
            f"(cash {statement.cash:,.2f}, {len(statement.positions)} positions)"
        )
    return EXIT_HALTED if result.halt else 0


def _halt_on(data_dir: Path, account: str, reason: str) -> None:
    """Persist HALTED in ``account``'s journal (under the data directory's lock)."""
    from services.bus import Bus
    from services.ops.datadir import DataDirLock
    from services.records.journal import Journal
    from services.trading.control import TradingControl
    from services.venues.accounts import account_dir

    with DataDirLock(data_dir):
        folder = account_dir(data_dir, account)
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        journal = Journal(folder / "journal.sqlite3")
        try:
            TradingControl(journal, Bus()).halt(reason)
        finally:
            journal.close()


def secret_reader() -> Callable[[str], str | None]:
    """Reads a named secret from the keyring, opening it on first use only."""
    from services.ops.secrets import Secrets, open_keyring

    opened: list[Secrets] = []

    def read(name: str) -> str | None:
        if not opened:
            opened.append(Secrets(open_keyring(prompt=True)))
        return opened[0].get(name)

    return read
