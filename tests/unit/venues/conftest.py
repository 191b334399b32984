"""A scripted broker in its own process, and a gateway connected to it."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from vnpy.event import Event

from services.accounting.costs import CostConfig
from services.bus import Bus
from services.data.sync import DataConfig
from services.events import (
    EVENT_CONNECTION,
    EVENT_LOG,
    EVENT_ORDER,
    EVENT_POSITION,
    EVENT_TRADE,
)
from services.ops.scheduler import JobsConfig
from services.runtime import AccountConfig, Services, build_services
from services.trading.accounts import LiveAccount
from services.venues.accounts import AccountSpec
from services.venues.scripted import ScriptedGateway
from services.venues.simulator import SimConfig


@dataclass
class Broker:
    """The broker process and its harness: ``call("fill", orderid=..., volume=...)``."""

    path: Path
    process: subprocess.Popen[str]

    def call(self, op: str, **fields: Any) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(self.path))
            sock.sendall((json.dumps({"id": 1, "op": op, **fields}) + "\n").encode())
            reply = sock.makefile().readline()
        out: dict[str, Any] = json.loads(reply)
        assert out.get("ok"), out
        return out


def start_broker(folder: Path, cash: float = 1_000_000.0) -> Broker:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "broker.sock"
    process = subprocess.Popen(
        [sys.executable, "-m", "services.venues.scripted_broker", str(path), "--cash", str(cash)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: it outlives whatever kills ours
    )
    assert process.stdout is not None
    assert "listening" in process.stdout.readline()
    return Broker(path, process)


def live_services(
    data_dir: Path, *specs: AccountSpec, secret: str | None = None, **options: Any
) -> Services:
    """Live mode's services trading ``specs`` over the simulated market's defaults, built,
    not started (``options``: more build_services arguments: strategies, risk, ...)."""
    return build_services(
        data_dir,
        sim=SimConfig(),
        costs=CostConfig(),
        account=AccountConfig(),
        paced=False,
        data=DataConfig(source="demo"),
        jobs=JobsConfig(daily_sync="", backup="", daily_summary=""),
        mode="live",
        accounts=[LiveAccount.load(spec, lambda name: secret) for spec in specs],
        **options,
    )


@pytest.fixture
def broker() -> Iterator[Broker]:
    folder = Path(tempfile.mkdtemp(prefix="qdb", dir="/tmp"))  # a Unix socket path is short
    running = start_broker(folder)
    yield running
    running.process.kill()
    running.process.wait()
    shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Seen:
    """Everything the gateway published, in order."""

    events: list[tuple[str, Any]] = field(default_factory=list)

    def of(self, kind: str) -> list[Any]:
        return [data for k, data in self.events if k == kind]

    def wait(self, test: Callable[[Seen], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not test(self):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; saw {[k for k, _ in self.events]}")
            time.sleep(0.01)


@pytest.fixture
def seen(bus: Bus) -> Seen:
    record = Seen()
    for kind in (EVENT_ORDER, EVENT_TRADE, EVENT_CONNECTION, EVENT_LOG, EVENT_POSITION):

        def handler(event: Event, kind: str = kind) -> None:
            record.events.append((kind, event.data))

        bus.register(kind, handler)
    return record


@pytest.fixture
def gateway(bus: Bus, broker: Broker, seen: Seen) -> Iterator[ScriptedGateway]:
    gw = ScriptedGateway(bus)
    gw.connect({"socket": str(broker.path)})
    seen.wait(lambda s: any(c.state == "CONNECTED" for c in s.of(EVENT_CONNECTION)))
    yield gw
    gw.close()
