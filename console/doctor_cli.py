"""``quantdesk doctor``: checks this machine for quantdesk and says what to fix.

Exit status: 0 nothing failed (warnings may remain), 1 something must be fixed.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from console.config import Config
from console.data_cli import locations
from services.ops.doctor import Finding

if TYPE_CHECKING:
    from services.ops.secrets import Secrets


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    doctor = sub.add_parser(
        "doctor",
        parents=[locations()],
        help="check the terminal, data directory, disk, keyring, store, accounts, alert "
        "channels and the quote source; say what to fix",
    )
    doctor.add_argument("--offline", action="store_true", help="skip the network checks")


def run(args: argparse.Namespace, data_dir: Path, config: Config) -> int:
    from services.alerts import checks as alert_checks
    from services.ops import doctor
    from services.ops.secrets import Secrets, open_keyring

    env = dict(os.environ)
    findings = [doctor.terminal(), doctor.colours(env), doctor.utf8(env), doctor.tmux_present()]
    findings += doctor.data_dir(data_dir, config.monitor.disk_free_gb)
    findings.append(Finding("config", "ok", config.source))
    findings.append(_store(data_dir, config))
    ring: list[object] = []

    def open_ring() -> object:
        ring.append(open_keyring(prompt=False))
        return ring[0]

    findings.append(doctor.keyring_backend(open_ring))
    secrets = Secrets(ring[0]) if ring else None
    findings += _accounts(config, secrets)
    findings += alert_checks.findings(
        config.alerts, config.telegram, secrets.get if secrets is not None else None
    )
    if args.offline:
        findings.append(Finding("quote source", "ok", "not checked (--offline)"))
    else:
        findings.append(doctor.reachable(config.feed.url))
        if config.telegram.control:
            findings.append(
                doctor.reachable(
                    config.telegram.api_url,
                    check="Telegram Bot API",
                    fix="phone control needs it: check the network, or point api_url at a proxy",
                )
            )
    for finding in findings:
        print(finding.line())
    failed = [f for f in findings if f.level == "FAIL"]
    warned = [f for f in findings if f.level == "warn"]
    print(f"{len(findings)} checks: {len(failed)} to fix, {len(warned)} warnings")
    return 1 if failed else 0


def _store(data_dir: Path, config: Config) -> Finding:
    from services.store import Store, StoreError

    store = Store.of(data_dir, config.store.uri)
    try:
        info = store.open()
    except StoreError as exc:
        return Finding("store", "FAIL", str(exc), "check [store] uri and the directory")
    return Finding("store", "ok", f"{info.uri} ({len(info.libraries)} libraries)")


def _accounts(config: Config, secrets: Secrets | None) -> list[Finding]:
    from services.venues.accounts import AccountError, gateway_class

    out: list[Finding] = []
    for spec in config.accounts:
        try:
            gateway_class(spec)
        except AccountError as exc:
            out.append(Finding(f"account {spec.id}", "FAIL", str(exc), "install the gateway"))
            continue
        missing = [
            name
            for name in spec.secrets.values()
            if secrets is not None and secrets.get(name) is None
        ]
        if missing:
            out.append(
                Finding(
                    f"account {spec.id}",
                    "FAIL",
                    f"secret {missing[0]!r} is not in the keyring",
                    f"quantdesk secrets set {missing[0]}",
                )
            )
        else:
            checked = "its secrets are set" if secrets is not None else "secrets not checked"
            out.append(Finding(f"account {spec.id}", "ok", f"{spec.gateway} installed; {checked}"))
    return out
