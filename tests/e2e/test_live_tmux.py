"""Live mode as a trader starts it: the real command in tmux, the typed confirmation,
the scripted broker in its own process as the account's broker."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.e2e.test_cli_tmux import TMUX, start_quantdesk, tmux, wait_for
from tests.unit.venues.conftest import start_broker

pytestmark = pytest.mark.e2e


def test_live_mode_is_confirmed_then_reconciled_and_a_difference_halts_it() -> None:
    assert TMUX is not None, "tmux is required for the end-to-end test (.ci/run installs it)"
    folder = Path(tempfile.mkdtemp(prefix="qdt", dir="/tmp"))
    broker = start_broker(folder)
    broker.call("external", symbol="600036", exchange="SSE", volume=200, price=35.0, fill=True)
    config = folder / "config.toml"
    config.write_text(
        '[[accounts]]\nid = "s1"\ngateway = "services.venues.scripted:ScriptedGateway"\n'
        f'settings = {{ socket = "{broker.path}" }}\nquotes = "sim"\n',
        encoding="utf-8",
    )
    name = f"qd-live-{uuid.uuid4().hex[:8]}"
    start_quantdesk(
        name, f"--data-dir {folder / 'data'} --config {config} --mode live --account s1", 120, 40
    )
    try:
        wait_for(name, lambda s: "Type the account id to go on" in s)
        tmux(name, "send-keys", "-t", name, "s1", "Enter")
        wait_for(name, lambda s: "LIVE s1" in s and "broker ●" in s and "→ LIVE s1" in s)
        wait_for(name, lambda s: "Reconciled with the broker" in s or "600036.SSE" in s)
        # Shares appear at the broker that no order explains: Y reconciles, and it halts.
        broker.call("set_position", symbol="601318", exchange="SSE", volume=1000)
        tmux(name, "send-keys", "-t", name, "Y")
        # (the "Reconciling" toast may cover the table for its few seconds)
        wait_for(
            name,
            lambda s: (
                "DIFFERENCE" in s
                and "HALTED" in s
                and "601318.SSE: the journal's ledger holds 0" in s
            ),
        )
        tmux(name, "send-keys", "-t", name, "Escape")
        wait_for(name, lambda s: "DIFFERENCE" not in s and "HALTED" in s)
        tmux(name, "send-keys", "-t", name, "q")
        wait_for(name, lambda s: "QUANTDESK-EXITED 0" in s, timeout=20)
    finally:
        subprocess.run(["tmux", "-L", name, "kill-server"], capture_output=True)
        broker.process.kill()
        shutil.rmtree(folder, ignore_errors=True)


def test_two_accounts_trade_side_by_side_and_one_halts_alone() -> None:
    assert TMUX is not None, "tmux is required for the end-to-end test (.ci/run installs it)"
    folder = Path(tempfile.mkdtemp(prefix="qdt", dir="/tmp"))
    brokers = [start_broker(folder / name) for name in ("b1", "b2")]
    config = folder / "config.toml"
    config.write_text(
        "".join(
            f'[[accounts]]\nid = "{account}"\n'
            'gateway = "services.venues.scripted:ScriptedGateway"\n'
            f'settings = {{ socket = "{broker.path}" }}\nquotes = "sim"\n'
            for account, broker in zip(("s1", "s2"), brokers, strict=True)
        ),
        encoding="utf-8",
    )
    name = f"qd-live2-{uuid.uuid4().hex[:8]}"
    args = f"--data-dir {folder / 'data'} --config {config} --mode live --account s1 --account s2"
    start_quantdesk(name, args, 120, 40)
    try:
        for account in ("s1", "s2"):  # each account is confirmed by typing its id
            wait_for(name, lambda s, a=account: f"account {a} " in s and s.rstrip().endswith(":"))
            tmux(name, "send-keys", "-t", name, account, "Enter")
        # The accounts bar under the header: both, the selected one marked.
        wait_for(
            name,
            lambda s: (
                "▶s1 ● ACTIVE broker ●" in s and " s2 ● ACTIVE broker ●" in s and "LIVE s1" in s
            ),
        )  # both connected (a broker with no client drops what it is told to push)
        brokers[1].call("garble")  # s2's gateway fails on a broker message: s2 alone halts
        wait_for(name, lambda s: "s2 ■ HALTED" in s and "▶s1 ● ACTIVE" in s)
        tmux(name, "send-keys", "-t", name, "C-n")  # show and trade s2
        wait_for(name, lambda s: "LIVE s2" in s and "▶s2" in s and "■ HALTED" in s.splitlines()[0])
        tmux(name, "send-keys", "-t", name, "q")
        wait_for(name, lambda s: "QUANTDESK-EXITED 0" in s, timeout=20)
    finally:
        subprocess.run(["tmux", "-L", name, "kill-server"], capture_output=True)
        for broker in brokers:
            broker.process.kill()
        shutil.rmtree(folder, ignore_errors=True)
