"""Live mode: a broker account's services, reconciled at connect, and how it is started."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from vnpy.event import Event
from vnpy.trader.constant import Direction, Exchange
from vnpy.trader.object import OrderData, TradeData

from console.cli import main
from console.config import DEMO_STRATEGIES, ConfigError, parse_config
from services.events import EVENT_ORDER, EVENT_RECONCILED, OrderIntent, Reconciled, TradingState
from services.records.journal import Journal
from services.records.recovery import Rebuilt, rebuild
from services.runtime import Services
from services.trading import accounts
from services.venues.accounts import AccountSpec
from tests.unit.venues.conftest import Broker, live_services

GATEWAY = "services.venues.scripted:ScriptedGateway"


def _live(tmp_path: Path, broker: Broker) -> Services:
    spec = AccountSpec(
        "s1", GATEWAY, {"socket": str(broker.path)}, quotes="sim", risk={"max_order_qty": 5_000}
    )
    services = live_services(tmp_path / "data", spec, strategies=list(DEMO_STRATEGIES))
    # Real money: the configured strategies are there, stopped, until started by hand.
    assert services.live.running == set() and set(services.live.specs) == {"demo-ma"}
    assert "strategies start stopped" in " ".join(services.recovery_notes)
    return services


@pytest.fixture
def reconciled(tmp_path: Path, broker: Broker) -> Iterator[tuple[Services, list[Reconciled]]]:
    broker.call("external", symbol="600036", exchange="SSE", volume=200, price=35.0, fill=True)
    services = _live(tmp_path, broker)
    seen: list[Reconciled] = []

    def on_reconciled(event: Event) -> None:
        seen.append(event.data)

    services.bus.register(EVENT_RECONCILED, on_reconciled)
    services.start()
    deadline = time.monotonic() + 5
    while not seen:
        assert time.monotonic() < deadline, "no reconciliation after the connect"
        time.sleep(0.01)
    yield services, seen
    services.stop()


def test_live_mode_reconciles_at_connect_then_trades_at_the_broker(
    reconciled: tuple[Services, list[Reconciled]], broker: Broker
) -> None:
    services, seen = reconciled
    assert services.mode == "LIVE" and services.account_id == "s1"
    assert services.orders.risk.max_order_qty == 5_000  # the account's own limit
    assert seen[0].why == "connected" and seen[0].differences == (), seen[0]
    assert seen[0].error == "", seen[0].error
    assert services.journal.path.parent.name == "s1"  # the account's own journal
    # ... written with synchronous=FULL (2): on disk before the order goes out, power loss too
    assert services.journal._db.execute("PRAGMA synchronous").fetchone()[0] == 2
    # The ledger opened from the broker's statement (its cost basis included).
    view = services.portfolio.view()
    assert [(p.vt_symbol, p.qty, p.avg_price) for p in view.positions] == [
        ("600036.SSE", 200, 35.0)
    ]
    assert services.portfolio.cash == pytest.approx(broker.call("state")["cash"])
    tick = services.market.get("600519.SSE")
    assert tick is not None
    price = round(tick.bid_price_1, 2)
    result = services.orders.submit(OrderIntent("lv-1", "600519.SSE", "buy", "limit", 100, price))
    assert result.accepted, result.violations
    assert [o["reference"] for o in broker.call("state")["orders"]] == ["", "lv-1"]
    # The quote feed keeps polling what has an order working at the broker.
    services.watched = set()
    assert "600519.SSE" in services.symbols_that_matter()


def test_a_difference_at_reconciliation_halts_the_account(
    reconciled: tuple[Services, list[Reconciled]], broker: Broker
) -> None:
    services, seen = reconciled
    broker.call("set_position", symbol="601318", exchange="SSE", volume=1000)
    assert services.watch is not None and services.watch.reconcile()
    deadline = time.monotonic() + 5
    while len(seen) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert seen[1].why == "on request" and len(seen[1].differences) == 1
    assert services.control.state is TradingState.HALTED
    assert "reconciliation: 1 difference" in services.control.reason
    tick = services.market.get("600519.SSE")
    assert tick is not None
    intent = OrderIntent("lv-2", "600519.SSE", "buy", "limit", 100, round(tick.bid_price_1, 2))
    assert not services.orders.submit(intent).accepted
    services.acknowledge_reconciliation(seen[1])
    assert services.journal.entries(kind="acknowledged")[0]["payload"]["differences"] == list(
        seen[1].differences
    )


def test_live_trading_is_started_only_on_purpose(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError, match="live trading starts only from the command line"):
        parse_config({"app": {"mode": "live"}}, "t")
    config = tmp_path / "config.toml"
    config.write_text(f'[[accounts]]\nid = "s1"\ngateway = "{GATEWAY}"\n', encoding="utf-8")
    data = ["--data-dir", str(tmp_path / "data"), "--config", str(config)]
    assert main(["--mode", "live", *data]) == 2
    assert "live mode trades the accounts you name: --account ID (s1)" in capsys.readouterr().err
    assert main(["--mode", "live", "--account", "s1", *data]) == 2  # stdin is not a terminal
    assert "confirmed at a terminal" in capsys.readouterr().err
    assert main(["--account", "s1", *data]) == 2
    assert "--account is for --mode live" in capsys.readouterr().err
    assert not (tmp_path / "data" / "accounts").exists()  # nothing was started


def test_an_order_unacknowledged_when_the_connection_drops_is_unknown_until_reported(
    reconciled: tuple[Services, list[Reconciled]], broker: Broker
) -> None:
    services, seen = reconciled
    updates: list[OrderData] = []
    services.bus.register(EVENT_ORDER, lambda e: updates.append(e.data))
    tick = services.market.get("600519.SSE")
    assert tick is not None
    broker.call("hold_ack")  # the broker takes the order but has not answered yet
    intent = OrderIntent("lv-3", "600519.SSE", "buy", "limit", 100, round(tick.bid_price_1, 2))
    result = services.orders.submit(intent)
    assert result.accepted and result.vt_orderid is not None
    assert broker.call("drop")["dropped"] == 1

    def statuses() -> list[tuple[str, bool]]:
        return [
            (o.status.name, bool((o.extra or {}).get("unknown")))
            for o in updates
            if o.vt_orderid == result.vt_orderid
        ]

    deadline = time.monotonic() + 5
    while ("NOTTRADED", False) not in statuses():  # the broker's report after the new login
        assert time.monotonic() < deadline, statuses()
        time.sleep(0.01)
    marks = statuses()
    assert marks.index(("SUBMITTING", True)) < marks.index(("NOTTRADED", False))
    while len(seen) < 2:  # reconciled again at the reconnect
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert seen[1].why == "connected" and seen[1].differences == ()


def test_quantdesk_halt_halts_a_running_live_account(
    reconciled: tuple[Services, list[Reconciled]], capsys: pytest.CaptureFixture[str]
) -> None:
    services, _ = reconciled
    data = services.data_dir
    # Run from another shell with no --mode: the live account is what must stop.
    assert main(["halt", "--data-dir", str(data), "--reason", "from the shell"]) == 0
    assert "halted the running quantdesk" in capsys.readouterr().out
    assert services.control.state is TradingState.HALTED
    saved = services.journal.trading_state()
    assert saved is not None and saved[0] == "HALTED" and "from the shell" in saved[1]
    assert main(["--mode", "live", "state", "--data-dir", str(data)]) == 2
    assert "give one --account ID" in capsys.readouterr().err


def test_a_failing_gateway_halts_its_account_and_reconnects(
    reconciled: tuple[Services, list[Reconciled]], broker: Broker
) -> None:
    services, seen = reconciled
    broker.call("garble")  # a report the gateway cannot read
    deadline = time.monotonic() + 5
    while services.control.state is not TradingState.HALTED:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert "account s1: gateway error: cannot handle a broker message" in services.control.reason
    while len(seen) < 2:  # it starts again from the broker's report: reconnect, reconcile
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert seen[1].why == "connected" and seen[1].differences == ()


def test_a_fill_landing_while_the_ledger_is_rebuilt_is_not_lost(
    reconciled: tuple[Services, list[Reconciled]], monkeypatch: pytest.MonkeyPatch
) -> None:
    services, seen = reconciled
    real = accounts.rebuild

    def rebuild_then_a_fill(journal: Journal, cash: float) -> Rebuilt:
        out = real(journal, cash)
        # The bus journals and books a fill after the rebuild read the journal.
        fill = {
            "vt_tradeid": "s1.LATE",
            "vt_symbol": "600036.SSE",
            "direction": "LONG",
            "price": 40.0,
            "volume": 100,
            "fee": 5.0,
        }
        journal.record("fill", "s1.X", fill)
        services.portfolio.book_fill("s1.LATE", "600036.SSE", "buy", 100, 40.0, 5.0)
        return out

    monkeypatch.setattr(accounts, "rebuild", rebuild_then_a_fill)
    assert services.watch is not None and services.watch.reconcile()
    deadline = time.monotonic() + 5
    while len(seen) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert services.portfolio.qty("600036.SSE") == 300  # 200 opened + the late 100


def test_a_fill_without_a_broker_fee_is_journaled_with_the_fee_the_ledger_books(
    reconciled: tuple[Services, list[Reconciled]],
) -> None:
    services, _ = reconciled
    assert services.venue is not None
    trade = TradeData(
        gateway_name="s1",
        symbol="600036",
        exchange=Exchange.SSE,
        orderid="EXT9",
        tradeid="T9",
        direction=Direction.LONG,
        price=40.0,
        volume=1000,
    )  # no extra: this report carries no fee (as vnpy_ctp's do not)
    services.venue.on_trade(trade)
    assert services.bus.wait_idle()
    fill = services.journal.entries(kind="fill")[-1]["payload"]
    assert fill["vt_tradeid"] == "s1.T9" and fill["fee_source"] == "model"
    # The cost model's (commission and transfer fee on 40,000), not 0 as before.
    assert fill["fee"] == pytest.approx(10.4)
    assert services.portfolio.fee_of(trade) == (pytest.approx(10.4), "model")
    rebuilt = rebuild(services.journal, 0.0)  # a restart books what the ledger booked
    assert rebuilt.book.cash == pytest.approx(services.portfolio.cash)


def test_the_header_says_how_the_broker_is_connected() -> None:
    from datetime import datetime

    from console.app import link_line
    from services.clock import EXCHANGE_TZ
    from services.events import ConnectionChanged

    at = datetime(2026, 11, 25, 10, 31, 2, tzinfo=EXCHANGE_TZ)
    assert link_line(ConnectionChanged("s1", "CONNECTED", at)) == ("broker ●", False)
    assert link_line(ConnectionChanged("s1", "RECONNECTING", at, "lost")) == (
        "broker RECONNECTING since 10:31:02 CST",
        True,
    )
    assert link_line(ConnectionChanged("s1", "DOWN", at, "login refused: bad password")) == (
        "broker DOWN: login refused: bad password",
        True,
    )


def test_a_broker_that_never_connects_halts_the_account(
    tmp_path: Path, broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accounts, "CONNECT_TIMEOUT_S", 1.0)
    spec = AccountSpec("s1", GATEWAY, {"socket": str(broker.path) + ".nobody"}, quotes="sim")
    services = live_services(tmp_path / "data", spec)
    services.start()
    try:
        deadline = time.monotonic() + 5
        while services.control.state is not TradingState.HALTED:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        reason = services.control.reason
        assert "account s1: not connected to the broker within 1 s" in reason
        assert "cannot reach the broker" in reason
    finally:
        services.stop()


@pytest.mark.parametrize(
    ("how", "said"),
    [("nan_cash", "cash is nan, not a finite number"), ("orders", "has no 'orders'")],
)
def test_a_statement_that_cannot_be_booked_halts_the_account(
    reconciled: tuple[Services, list[Reconciled]], broker: Broker, how: str, said: str
) -> None:
    """NaN cash was "agreed" with (and state --json then printed invalid JSON); a missing
    section was a KeyError. Either is an error naming the broker, and the account HALTs."""
    services, seen = reconciled
    assert services.control.state is TradingState.ACTIVE
    broker.call("spoil", how=how)
    assert services.watch is not None and services.watch.reconcile()
    deadline = time.monotonic() + 5
    while len(seen) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert seen[1].error.startswith("s1: the broker's statement") and said in seen[1].error
    assert services.control.state is TradingState.HALTED
    assert said in services.control.reason
    assert not any("nan" in str(e["payload"]).lower() for e in services.journal.entries("opened"))


def test_the_reconcile_command_halts_on_a_statement_it_cannot_use(
    tmp_path: Path, broker: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[[accounts]]\nid = "s1"\ngateway = "{GATEWAY}"\nquotes = "sim"\n'
        f'settings = {{ socket = "{broker.path}" }}\n'
    )
    data = tmp_path / "data"
    broker.call("spoil", how="nan_cash")
    args = ["--data-dir", str(data), "--config", str(config), "reconcile", "--account", "s1"]
    assert main(args) == 5
    err = capsys.readouterr().err
    assert "cash is nan, not a finite number" in err and "account s1 HALTED" in err
    assert "Traceback" not in err
    journal = Journal(data / "accounts" / "s1" / "journal.sqlite3", readonly=True)
    saved = journal.trading_state()  # the account's next start comes up HALTED
    journal.close()
    assert saved is not None and saved[0] == "HALTED" and "cash is nan" in saved[1]
