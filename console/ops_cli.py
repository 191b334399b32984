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
from console.data_cli import day

EXIT_USAGE = 2


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", metavar="DIR", default=argparse.SUPPRESS)
    common.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS)
    halt = sub.add_parser(
        "halt",
        parents=[common],
        help="halt the running quantdesk on this data dir (cancels every working order)",
    )
    halt.add_argument("--reason", default="quantdesk halt")
    state = sub.add_parser(
        "state", parents=[common], help="trading state, positions, cash, open orders (journal)"
    )
    state.add_argument("--json", action="store_true")
    journal = sub.add_parser("journal", help="the order journal")
    jcmds = journal.add_subparsers(dest="journal_command", required=True, metavar="COMMAND")
    export = jcmds.add_parser("export", parents=[common], help="write the journal for audits")
    export.add_argument("--since", type=day, help="entries on or after this day")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("--output", type=Path, help="a file (default: standard output)")


def run(args: argparse.Namespace, data_dir: Path, config: Config) -> int:
    from services.journal import Journal, JournalError

    path = data_dir / "journal.sqlite3"
    if args.command == "halt":
        return _halt(data_dir, path, args.reason)
    if not path.exists():
        print(f"quantdesk: no journal in {data_dir}: nothing has traded here", file=sys.stderr)
        return EXIT_USAGE
    try:
        journal = Journal(path)
    except JournalError as exc:
        print(f"quantdesk: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.command == "state":
            return _state(journal, data_dir, config, args.json)
        return _export(journal, args.since, args.format, args.output)
    finally:
        journal.close()


def _halt(data_dir: Path, path: Path, reason: str) -> int:
    from services.bus import Bus
    from services.control import TradingControl
    from services.control_server import request
    from services.journal import Journal

    try:
        answer = request(data_dir, f"halt {reason}")
    except TimeoutError:
        answer = "timeout"
    if answer is not None and answer.startswith("halted"):
        cancels = answer.split()[1]
        print(f"halted the running quantdesk ({cancels} cancel requests sent)")
        return 0
    # Nothing answered: make sure the persisted state is HALTED either way.
    journal = Journal(path)
    try:
        TradingControl(journal, Bus()).halt(f"{reason} (no answer from a running instance)")
    finally:
        journal.close()
    if answer == "timeout":
        print(
            f"quantdesk on {data_dir} did not answer within 1 s: the journal's state is set to "
            "HALTED, but that instance may still be trading -- stop it (kill it if need be)",
            file=sys.stderr,
        )
        return 1
    print(f"no quantdesk is running on {data_dir}: trading state set to HALTED for the next start")
    return 0


def _state(journal: Any, data_dir: Path, config: Config, as_json: bool) -> int:
    from services.control_server import request
    from services.recovery import rebuild

    doc = rebuild(journal, config.account.initial_cash).as_dict()
    doc["running"] = request(data_dir, "ping") is not None
    if as_json:
        print(json.dumps(doc, ensure_ascii=False, default=str))
        return 0
    print(f"trading {doc['state']}" + (f" ({doc['state_reason']})" if doc["state_reason"] else ""))
    print(f"running: {'yes' if doc['running'] else 'no'}; cash {doc['cash']:,.2f}")
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


def _export(journal: Any, since: date | None, fmt: str, output: Path | None) -> int:
    entries = journal.entries()
    if since is not None:
        entries = [e for e in entries if e["at"][:10] >= since.isoformat()]
    out = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    try:
        if fmt == "json":  # one JSON object per line: streams, and appends cleanly
            for e in entries:
                out.write(json.dumps(e, ensure_ascii=False) + "\n")
        else:
            writer = csv.writer(out)
            writer.writerow(["seq", "at", "kind", "ref", "payload"])
            for e in entries:
                writer.writerow(
                    [
                        e["seq"],
                        e["at"],
                        e["kind"],
                        e["ref"],
                        json.dumps(e["payload"], ensure_ascii=False),
                    ]
                )
    finally:
        if output:
            out.close()
    if output:
        print(f"{len(entries)} journal entries written to {output}", file=sys.stderr)
    return 0


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
        log.info("quantdesk headless: stopped cleanly")
    return 0
