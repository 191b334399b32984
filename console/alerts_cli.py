"""``quantdesk alerts``: the channels, a test message, and the outbox.

- ``alerts channels``: each channel's service and route (the URL stays in the keyring);
- ``alerts test [CHANNEL]``: one test message to every channel (or the one named), now,
  saying for each whether it arrived at the service -- exit 1 if any did not;
- ``alerts list [--failed] [-n N]``: the newest deliveries from the outbox.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from console.config import Config
from services.clock import cst

EXIT_USAGE = 2


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    alerts = sub.add_parser(
        "alerts",
        help="alert channels: list them, send a test, show what was sent or failed",
        description="Alerts go to [alerts.channels.NAME]: apprise URLs kept in the keyring "
        "(quantdesk secrets set NAME). See the README's Alerts section.",
    )
    cmds = alerts.add_subparsers(dest="alerts_command", required=True, metavar="COMMAND")
    cmds.add_parser("channels", help="each channel's service and route")
    test = cmds.add_parser("test", help="send one test alert to every channel, or to CHANNEL")
    test.add_argument("channel", nargs="?", help="a channel's name ([alerts.channels.NAME])")
    listing = cmds.add_parser("list", help="the newest deliveries (sent, pending, failed)")
    listing.add_argument("--failed", action="store_true", help="only those given up")
    listing.add_argument("-n", type=int, default=30, metavar="N", help="how many (default 30)")


def run(args: argparse.Namespace, data_dir: Path, config: Config) -> int:
    if args.alerts_command == "list":
        return _list(data_dir, args.failed, args.n)
    if not config.alerts.channels:
        print(
            f"quantdesk: no alert channel in {config.source}: add [alerts.channels.NAME] with "
            "secret = NAME, store its apprise URL with quantdesk secrets set NAME",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.alerts_command == "channels":
        for c in config.alerts.channels:
            kinds = ", ".join(c.kinds) if c.kinds else "every kind"
            print(f"{c.name:<12} secret {c.secret:<20} {c.min_severity}+ · {kinds}")
        return 0
    return _test(config, args.channel)


def _test(config: Config, name: str | None) -> int:
    from console.account_cli import secret_reader
    from services.alerts.channels import ChannelError, open_channels
    from services.alerts.config import AlertsConfig
    from services.ops.secrets import SecretsError

    chosen = config.alerts.channels
    if name:
        chosen = tuple(c for c in chosen if c.name == name)
        if not chosen:
            known = ", ".join(c.name for c in config.alerts.channels)
            print(f"quantdesk: no alert channel {name!r} ({known})", file=sys.stderr)
            return EXIT_USAGE
    try:
        channels = open_channels(
            AlertsConfig(timeout_s=config.alerts.timeout_s, channels=chosen), secret_reader()
        )
    except (ChannelError, SecretsError) as exc:
        print(f"quantdesk: {exc}", file=sys.stderr)
        return EXIT_USAGE
    failed = 0
    at = cst(datetime.now(), "%Y-%m-%d %H:%M:%S")
    for channel in channels:
        print(f"{channel.name} ({channel.target}): sending…", end=" ", flush=True)
        why = channel.send(
            "quantdesk alerts test",
            f"A test from quantdesk at {at}: alerts of {channel.config.min_severity} and above "
            "reach you here.",
            "info",
        )
        print("sent" if not why else f"FAILED: {why}", flush=True)
        failed += bool(why)
    if failed:
        print(f"{failed} of {len(channels)} failed: check each URL (quantdesk secrets set NAME)")
    return 1 if failed else 0


def _list(data_dir: Path, failed_only: bool, n: int) -> int:
    from services.alerts.outbox import OutboxError, open_existing

    try:
        outbox = open_existing(data_dir)
    except OutboxError as exc:
        print(f"quantdesk: {exc}", file=sys.stderr)
        return 2
    if outbox is None:
        print(f"no alerts yet in {data_dir} (none was raised with a channel configured)")
        return 0
    try:
        rows = outbox.recent(max(1, n), "failed" if failed_only else None)
    finally:
        outbox.close()
    for row in rows:
        how = row.state + (" (digest)" if row.digest and row.state == "sent" else "")
        tries = f" after {row.attempts} tries: {row.error}" if row.state == "failed" else ""
        waiting = (
            f" (tried {row.attempts}: {row.error})"
            if row.state == "pending" and row.attempts
            else ""
        )
        when = cst(row.alert.at, "%m-%d %H:%M:%S")
        print(
            f"{when} {row.channel:<10} {how:<14} {row.alert.severity:<8} "
            f"{row.alert.kind:<8} {row.alert.title}{tries}{waiting}"
        )
    if not rows:
        print("no failed deliveries" if failed_only else "no alerts yet")
    return 0
