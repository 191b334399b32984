"""Commands for other shells and unattended operation: ``halt``, ``state``, ``journal
export`` and ``--headless``. None of them imports Textual.

Exit status: 0 done; 1 ``halt`` found an instance that did not answer within a second
(the journal's state is set to HALTED anyway); 2 bad usage or no journal in the data
directory.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import signal
import sys
import threading
from datetime import date
from pathlib import Path
from typing import Any

from console.config import Config
from console.data_cli import day, locations
from services.ops.modes import CLI_MODES, LIVE, MODES, journal_path

EXIT_USAGE = 2


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False, parents=[locations()])
    common.add_argument(
        "--mode",
        choices=MODES,
        default=argparse.SUPPRESS,
        help="whose account: demo, paper or replay (default: [app] mode)",
    )
    record = sub.add_parser(
        "record",
        parents=[locations()],
        help="poll live quotes for the watchlist and record every poll, no strategies "
        "(paper mode headless with [feed] record = true), until SIGTERM or ctrl+c",
    )
    record.add_argument(
        "--from-bars",
        type=day,
        metavar="DAY",
        help="instead, write a recording of DAY from the stored minute bars (the offline "
        "demo on real data: replay it with --mode replay)",
    )
    record.add_argument(
        "--symbols", help="with --from-bars: comma-separated symbols (default: the watchlist)"
    )
    halt = sub.add_parser(
        "halt",
        parents=[common],
        help="halt the running quantdesk on this data dir (cancels every working order)",
    )
    halt.add_argument(
        "--reason", default="quantdesk halt", help="why, for the journal and the screen"
    )
    state = sub.add_parser(
        "state", parents=[common], help="trading state, positions, cash, open orders (journal)"
    )
    state.add_argument("--json", action="store_true", help="one JSON document")
    journal = sub.add_parser("journal", help="the order journal")
    jcmds = journal.add_subparsers(dest="journal_command", required=True, metavar="COMMAND")
    export = jcmds.add_parser("export", parents=[common], help="write the journal for audits")
    export.add_argument("--since", type=day, help="entries on or after this day")
    export.add_argument(
        "--format",
        choices=("csv", "json"),
        default="csv",
        help="CSV with the payload as JSON (default), or one JSON object per line",
    )
    export.add_argument("--output", type=Path, help="a file (default: standard output)")


def run(args: argparse.Namespace, data_dir: Path, config: Config, mode: str) -> int:
    from services.records.journal import Journal, JournalError

    given = getattr(args, "account", None) or []
    given = [given] if isinstance(given, str) else given
    if mode == LIVE and len(given) != 1:
        print("quantdesk: a live account's journal: give one --account ID", file=sys.stderr)
        return EXIT_USAGE
    account = given[0] if given else ""
    path = journal_path(data_dir, mode, account)
    if args.command == "halt":
        return _halt(data_dir, path, args.reason, mode)
    if not path.exists() and args.command == "state":  # nothing traded: the truth is empty
        return _state(None, data_dir, config, args.json, mode)
    if not path.exists():
        print(
            f"quantdesk: no {mode} journal in {data_dir}: nothing has traded in {mode} mode "
            "here (--mode picks another account)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        journal = Journal(path, readonly=True)  # beside a running instance, or a read-only copy
    except JournalError as exc:
        print(f"quantdesk: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.command == "state":
            return _state(journal, data_dir, config, args.json, mode)
        return _export(journal, args.since, args.format, args.output)
    except JournalError as exc:
        print(f"quantdesk: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        journal.close()


def _halt(data_dir: Path, path: Path, reason: str, mode: str) -> int:
    """HALT the instance on ``data_dir`` and confirm it from the journal; with none
    running, persist HALTED for the next start (under the data directory's lock). When
    the running instance trades another mode's account, only ``mode``'s journal is set."""
    from services.ops.control_server import ControlChannelError, request
    from services.ops.datadir import DataDirBusy, DataDirLock, holder
    from services.records.journal import JournalError

    try:
        answered = request(data_dir, "mode")
        running_mode: str | None = None
        account = ""
        if answered is not None:  # "demo", "paper", "replay" or "live <account>"
            running_mode, _, account = answered.partition(" ")
        if running_mode == LIVE and account:  # a live account runs: halt it, whatever --mode
            path, mode = journal_path(data_dir, LIVE, account), LIVE
        if running_mode is not None and running_mode not in CLI_MODES:
            print(
                f"quantdesk: the control address of {data_dir} answered {running_mode!r} to "
                "'mode': that is not a quantdesk instance, so nothing was halted -- find and "
                "stop the process holding it",
                file=sys.stderr,
            )
            return 1
        if running_mode is not None and running_mode != mode:
            try:
                _persist_halt(path, f"{reason} (while {running_mode} mode was running)")
            except (OSError, JournalError) as exc:
                print(f"quantdesk: could not set HALTED in {path}: {exc}", file=sys.stderr)
                return 1
            print(
                f"the running quantdesk trades the {running_mode} account, not {mode}: "
                f"{mode}'s trading state set to HALTED for its next start; halt the running "
                f"one with --mode {running_mode}"
            )
            return 0
        answer = request(data_dir, f"halt {reason}")
    except TimeoutError:
        answer = "timeout"
    except ControlChannelError as exc:
        print(f"quantdesk: {exc}", file=sys.stderr)
        return 1
    if answer is not None and answer.startswith("halted"):
        cancels = answer.split()[1]
        if _journal_says_halted(path):
            print(f"halted the running quantdesk ({cancels} cancel requests sent)")
            return 0
        print(
            f"quantdesk on {data_dir} answered 'halted' but its journal does not say HALTED: "
            "treat it as still trading -- stop it (kill it if need be)",
            file=sys.stderr,
        )
        return 1
    if answer not in (None, "timeout"):
        print(f"quantdesk: the running instance refused: {answer}", file=sys.stderr)
        return 1
    running = holder(data_dir)
    try:
        if running is None:  # nobody may start trading while the state is written
            with DataDirLock(data_dir):
                _persist_halt(path, f"{reason} (no instance was running)")
        else:
            _persist_halt(path, f"{reason} (no answer from a running instance)")
    except DataDirBusy:
        running = -1  # an instance started just now: it reads the state we could not write
    except (OSError, JournalError) as exc:
        print(f"quantdesk: could not set HALTED in {path}: {exc}", file=sys.stderr)
        return 1
    if answer == "timeout" or running is not None:
        who = f" (pid {running})" if running and running > 0 else ""
        print(
            f"quantdesk on {data_dir}{who} did not answer within 1 s: the journal's state is "
            "set to HALTED, but that instance may still be trading -- stop it (kill it if "
            "need be)",
            file=sys.stderr,
        )
        return 1
    print(f"no quantdesk is running on {data_dir}: trading state set to HALTED for the next start")
    return 0


def _persist_halt(path: Path, reason: str) -> None:
    from services.bus import Bus
    from services.records.journal import Journal
    from services.trading.control import TradingControl

    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    journal = Journal(path)
    try:
        TradingControl(journal, Bus()).halt(reason)
    finally:
        journal.close()


def _journal_says_halted(path: Path) -> bool:
    from services.records.journal import Journal, JournalError

    try:
        journal = Journal(path, readonly=True)
    except JournalError:
        return False
    try:
        saved = journal.trading_state()
    except JournalError:
        return False
    finally:
        journal.close()
    return saved is not None and saved[0] == "HALTED"


def _state(journal: Any | None, data_dir: Path, config: Config, as_json: bool, mode: str) -> int:
    """The account as its journal rebuilds it; with no journal (nothing has traded in
    ``mode`` here yet), the empty ACTIVE account a first start opens."""
    from services.ops.control_server import ControlChannelError, request
    from services.ops.datadir import holder
    from services.records.recovery import Rebuilt, rebuild

    cash = config.account.initial_cash
    doc = (rebuild(journal, cash) if journal is not None else Rebuilt.fresh(cash)).as_dict()

    try:
        running_mode = request(data_dir, "mode")
    except (TimeoutError, ControlChannelError):
        running_mode = None
    pid = holder(data_dir)
    doc["mode"] = mode
    # The lock is per data directory: a holder that answers with another mode is not this
    # account's instance. (One that does not answer at all is reported as running.)
    doc["running"] = running_mode == mode or (pid is not None and running_mode is None)
    doc["pid"] = pid if pid and pid > 0 else None
    if as_json:
        try:  # strict JSON: a NaN (never booked now) is an error, not an invalid document
            print(json.dumps(doc, ensure_ascii=False, default=str, allow_nan=False))
        except ValueError:
            print(
                f"quantdesk: the {mode} journal holds a number that is not finite (NaN or "
                "infinity): its state cannot be written as JSON; quantdesk state shows it",
                file=sys.stderr,
            )
            return EXIT_USAGE
        return 0
    print(
        f"{mode}: trading {doc['state']}"
        + (f" ({doc['state_reason']})" if doc["state_reason"] else "")
    )
    print(f"running: {'yes' if doc['running'] else 'no'}; cash {doc['cash']:,.2f}")
    if journal is None:
        print(f"no {mode} journal in {data_dir} yet: nothing has traded in {mode} mode here")
    for p in doc["positions"]:
        print(
            f"  {p['vt_symbol']:<12} {p['qty']:>8,} (sellable {p['sellable']:,}) "
            f"avg {p['avg_price']:g}"
        )
    for o in doc["open_orders"]:
        print(
            f"  open {o['vt_orderid']} {o['side']} {o['qty']} {o['vt_symbol']} "
            f"@ {o['price']} {o['status']}"
        )
    for problem in doc["problems"]:
        print(f"  problem: {problem}")
    return 0


def cell(text: str) -> str:
    """A CSV cell a spreadsheet will not run: free text (a halt reason, say) starting with
    ``= + - @``, a tab or a carriage return is prefixed with an apostrophe."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _export(journal: Any, since: date | None, fmt: str, output: Path | None) -> int:
    from services.ops.paths import PathError, output_file, write_error

    try:
        if output is not None:
            output_file(output, "the export")
        entries = journal.entries()
        if since is not None:
            entries = [e for e in entries if e["at"][:10] >= since.isoformat()]
        if output is None:
            _write_entries(entries, fmt, sys.stdout)
            return 0
        tmp = output.with_name(output.name + ".part")  # never a half-written export
        try:
            with tmp.open("w", encoding="utf-8", newline="") as out:
                _write_entries(entries, fmt, out)
            tmp.replace(output)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise write_error(output, exc, "the export") from None
    except PathError as exc:
        print(f"quantdesk: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{len(entries)} journal entries written to {output}", file=sys.stderr)
    return 0


def _write_entries(entries: list[dict[str, Any]], fmt: str, out: Any) -> None:
    """JSON lines, or CSV with the payload as JSON (cells a spreadsheet would run made inert)."""
    if fmt == "json":  # one JSON object per line: streams, and appends cleanly
        for e in entries:
            out.write(json.dumps(e, ensure_ascii=False) + "\n")
        return
    writer = csv.writer(out)
    writer.writerow(["seq", "at", "kind", "ref", "payload"])
    for e in entries:
        writer.writerow(
            [
                e["seq"],
                e["at"],
                cell(e["kind"]),
                cell(e["ref"]),
                cell(json.dumps(e["payload"], ensure_ascii=False)),
            ]
        )


def run_headless(data_dir: Path, config: Config, services: Any) -> int:
    """Services and scheduled jobs without the UI, until SIGTERM or SIGINT."""
    log = logging.getLogger("quantdesk")
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    prep = services.prepare_market()
    if prep.error:
        log.error("market data store unusable: %s", prep.error)
    services.start(prev_closes=prep.closes)
    services.scheduler.start()
    for note in services.recovery_notes:
        log.warning("%s", note)
    log.info("quantdesk headless: running (pid in the control channel); SIGTERM stops it")
    print(
        f"quantdesk headless on {data_dir}: logging to {data_dir / 'logs' / 'quantdesk.log'}",
        flush=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        services.stop()
    if services.control.journal_error:
        log.critical("quantdesk headless: stopped after %s", services.control.journal_error)
        print(
            f"quantdesk: stopped after a journal write failed: {services.control.journal_error}",
            file=sys.stderr,
        )
        return 1
    log.info("quantdesk headless: stopped cleanly")
    return 0


def add_secrets_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    secrets = sub.add_parser(
        "secrets",
        help="tokens and passwords in the keyring, by name (never in config.toml)",
        description="Store secrets in the system keyring, or an encrypted file keyring on a "
        "headless server (passphrase from $QUANTDESK_KEYRING_PASSPHRASE or a prompt).",
    )
    cmds = secrets.add_subparsers(dest="secrets_command", required=True, metavar="COMMAND")
    put = cmds.add_parser(
        "set", help="store NAME: the value from a hidden prompt, or standard input if piped"
    )
    put.add_argument("name", help="e.g. tushare")
    cmds.add_parser("list", help="the names stored (never the values)")
    rm = cmds.add_parser("delete", help="remove NAME")
    rm.add_argument("name", help="e.g. tushare")


def run_secrets(args: argparse.Namespace) -> int:
    """``quantdesk secrets set|list|delete``: 0 done, 1 nothing to delete, 2 a keyring error."""
    import getpass

    from services.ops.secrets import Secrets, SecretsError, check_name, open_keyring

    try:
        if args.secrets_command in ("set", "delete"):
            check_name(args.name)
        store = Secrets(open_keyring())
        if args.secrets_command == "list":
            names = store.names()
            damaged = []
            for name in names:  # each entry decrypted (its value never shown)
                try:
                    store.get(name)
                except SecretsError:
                    damaged.append(name)
            lines = [f"{n}  DAMAGED: set it again" if n in damaged else n for n in names]
            print("\n".join(lines) if names else "no secrets stored", flush=True)
            print(f"(keyring: {store.backend})", file=sys.stderr)
            if damaged:
                print(
                    f"quantdesk: {len(damaged)} secret(s) cannot be decrypted: restore the "
                    "keyring file from a backup, or quantdesk secrets set NAME",
                    file=sys.stderr,
                )
                return 1
            return 0
        if args.secrets_command == "delete":
            if not store.delete(args.name):
                print(f"quantdesk: no secret named {args.name}", file=sys.stderr)
                return 1
            print(f"deleted {args.name}")
            return 0
        if sys.stdin.isatty():
            value = getpass.getpass(f"value of {args.name} (hidden): ")
        else:
            value = sys.stdin.read().strip()
        store.set(args.name, value)
    except SecretsError as exc:
        print(f"quantdesk: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"stored {args.name} in the keyring ({store.backend})")
    return 0


def record_from_bars(data_dir: Path, config: Config, day_: date, symbols: list[str] | None) -> int:
    """``quantdesk record --from-bars DAY``: the stored minute bars of DAY as a recording in
    the quote source's wire format (services.feed.synth)."""
    from datetime import timedelta

    from services.feed.source import Recorder
    from services.feed.synth import polls_from_bars
    from services.instruments import instrument_for
    from services.ops.modes import recordings_dir
    from services.store import Store, StoreError

    wanted = symbols or list(config.watchlist.symbols)
    store = Store.of(data_dir, config.store.uri)
    try:
        store.open()
        bars, prev, instruments = {}, {}, {}
        for symbol in wanted:
            inst = instrument_for(symbol)
            if inst is None:
                print(f"quantdesk: {symbol} is not an A-share or ETF symbol", file=sys.stderr)
                return EXIT_USAGE
            frame = store.read_bars(symbol, "1m", start=day_, end=day_ + timedelta(days=1))
            frame = frame[frame.index.date == day_]
            if frame.empty:
                continue
            daily = store.read_bars(symbol, "1d", end=day_ - timedelta(days=1))
            prev[symbol] = (
                float(daily["close"].iloc[-1]) if len(daily) else float(frame["open"].iloc[0])
            )
            bars[symbol], instruments[symbol] = frame, inst
    except StoreError as exc:
        print(f"quantdesk: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not bars:
        print(
            f"quantdesk: no stored minute bars on {day_} for {', '.join(wanted)} "
            "(`quantdesk data status` lists what is stored)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    path = recordings_dir(data_dir) / f"{day_}-bars.jsonl.gz"
    if path.exists():
        print(f"quantdesk: {path} exists; move it aside first", file=sys.stderr)
        return EXIT_USAGE
    recorder = Recorder(path)
    try:
        for poll in polls_from_bars(bars, instruments, prev):
            recorder.write(poll)
    finally:
        recorder.close()
    print(
        f"recorded {recorder.polls} polls of {len(bars)} symbols on {day_} to {path}; "
        f"play it with: quantdesk --mode replay {path}"
    )
    return 0
