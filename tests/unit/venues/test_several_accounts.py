"""Several live accounts in one session: each its own journal, ledger, limits and HALT.

Two scripted brokers, each in its own process, each an account: an order goes to
the selected account's broker only, a fill lands in that account's journal and
ledger only, and one account's broker failing halts that account alone.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from vnpy.event import Event

from services.events import EVENT_RECONCILED, OrderIntent, Reconciled, TradingState
from services.runtime import Services
from services.trading import accounts
from services.venues.accounts import AccountSpec
from tests.unit.venues.conftest import Broker, live_services, start_broker

GATEWAY = "services.venues.scripted:ScriptedGateway"


def _until(test: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not test():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


@pytest.fixture
def brokers() -> Iterator[tuple[Broker, Broker]]:
    folders = [Path(tempfile.mkdtemp(prefix="qdb", dir="/tmp")) for _ in range(2)]
    running = [
        start_broker(folder, cash=cash) for folder, cash in zip(folders, (1e6, 5e5), strict=True)
    ]
    yield running[0], running[1]
    for broker, folder in zip(running, folders, strict=True):
        broker.process.kill()
        broker.process.wait()
        shutil.rmtree(folder, ignore_errors=True)


def _spec(account: str, broker: Broker, risk: dict[str, int] | None = None) -> AccountSpec:
    return AccountSpec(
        account, GATEWAY, {"socket": str(broker.path)}, quotes="sim", risk=risk or {}
    )


@pytest.fixture
def two(tmp_path: Path, brokers: tuple[Broker, Broker]) -> Iterator[Services]:
    a, b = brokers
    services = live_services(
        tmp_path / "data",
        _spec("a1", a, risk={"max_order_qty": 1_000}),
        _spec("a2", b, risk={"max_order_qty": 50_000}),
    )
    seen: list[Reconciled] = []

    def on_reconciled(event: Event) -> None:
        seen.append(event.data)

    services.bus.register(EVENT_RECONCILED, on_reconciled)
    services.start()
    _until(lambda: {r.account for r in seen} == {"a1", "a2"}, "both reconciled at connect")
    assert all(r.error == "" and not r.differences for r in seen), seen
    _until(lambda: not any(d.orders.blocked for d in services.desks), "orders unblocked")
    yield services
    services.stop()


def _buy(services: Services, intent_id: str, qty: int = 100) -> OrderIntent:
    tick = services.market.get("600036.SSE")
    assert tick is not None
    return OrderIntent(intent_id, "600036.SSE", "buy", "limit", qty, round(tick.bid_price_1, 2))


def test_each_account_has_its_own_journal_ledger_and_limits(
    two: Services, brokers: tuple[Broker, Broker]
) -> None:
    services, (a, b) = two, brokers
    a1, a2 = services.desks
    assert (a1.id, a2.id) == ("a1", "a2") and services.account_id == "a1"
    assert a1.journal.path.parent.name == "a1" and a2.journal.path.parent.name == "a2"
    # Each ledger opened from its own broker's cash.
    assert a1.portfolio.cash == pytest.approx(1e6) and a2.portfolio.cash == pytest.approx(5e5)
    # Each account's own limits: 2,000 shares is over a1's max_order_qty, within a2's.
    refused = services.orders.submit(_buy(services, "x-1", 2_000))
    assert [v.rule for v in refused.violations] == ["order_qty"]
    services.select("a2")
    assert services.orders is a2.orders and services.portfolio is a2.portfolio
    sent = services.orders.submit(_buy(services, "x-2", 2_000))
    assert sent.accepted, sent.violations
    assert [o["reference"] for o in b.call("state")["orders"]] == ["x-2"]
    assert a.call("state")["orders"] == []  # the other broker never saw it
    b.call("fill", reference="x-2", volume=2_000)
    _until(lambda: a2.portfolio.qty("600036.SSE") == 2_000, "a2's fill booked")
    assert services.bus.wait_idle()
    assert a1.portfolio.qty("600036.SSE") == 0  # a1's ledger never saw a2's fill
    assert [e["payload"]["vt_tradeid"] for e in a2.journal.entries(kind="fill")] != []
    assert a1.journal.entries(kind="fill") == []
    assert [e["ref"] for e in a1.journal.entries(kind="intent")] == ["x-1"]  # its refusal
    assert a2.portfolio.cash == pytest.approx(b.call("state")["cash"])
    # What the quote feed polls covers every account's working orders and positions.
    services.watched = set()
    assert "600036.SSE" in services.symbols_that_matter()


def test_a_failing_gateway_halts_its_own_account_only(
    two: Services, brokers: tuple[Broker, Broker]
) -> None:
    services, (_, b) = two, brokers
    a1, a2 = services.desks
    b.call("garble")  # a2's broker sends what its gateway cannot read
    _until(lambda: a2.control.state is TradingState.HALTED, "a2 halted")
    assert "account a2: gateway error" in a2.control.reason
    assert a1.control.state is TradingState.ACTIVE
    saved = a1.journal.trading_state()
    assert saved is None or saved[0] == "ACTIVE"
    sent = a1.orders.submit(_buy(services, "y-1"))  # a1 trades on
    assert sent.accepted, sent.violations
    refused = a2.orders.submit(_buy(services, "y-2"))
    assert not refused.accepted


def test_the_kill_switch_halts_every_account_and_cancels_everywhere(
    two: Services, brokers: tuple[Broker, Broker]
) -> None:
    services, (a, b) = two, brokers
    a1, a2 = services.desks
    assert a1.orders.submit(_buy(services, "k-1")).accepted
    assert a2.orders.submit(_buy(services, "k-2")).accepted
    cancelled = services.kill_switch("test")
    assert len(cancelled) == 2
    assert {d.control.state for d in services.desks} == {TradingState.HALTED}
    for broker in (a, b):
        _until(
            lambda broker=broker: all(
                o["status"] == "CANCELLED" for o in broker.call("state")["orders"]
            ),
            "cancelled at the broker",
        )


def test_a_hung_connect_halts_that_account_alone(
    tmp_path: Path, brokers: tuple[Broker, Broker], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accounts, "CONNECT_TIMEOUT_S", 1.0)
    a, b = brokers
    gone = AccountSpec("gone", GATEWAY, {"socket": str(b.path) + ".nobody"}, quotes="sim")
    services = live_services(tmp_path / "data", _spec("a1", a), gone)
    services.start()
    try:
        hung = services.desk_of("gone")
        assert hung is not None
        _until(lambda: hung.control.state is TradingState.HALTED, "the hung account halted")
        assert "not connected to the broker within 1 s" in hung.control.reason
        assert services.primary.control.state is TradingState.ACTIVE
    finally:
        services.stop()


def test_a_paper_account_trades_beside_a_broker_account_and_survives_a_restart(
    tmp_path: Path, brokers: tuple[Broker, Broker]
) -> None:
    a, _ = brokers
    paper = AccountSpec("pp", "paper", {"initial_cash": 200_000.0}, quotes="sim")
    data = tmp_path / "data"

    def started() -> tuple[Services, list[Reconciled]]:
        services = live_services(data, _spec("a1", a), paper)
        seen: list[Reconciled] = []
        services.bus.register(EVENT_RECONCILED, lambda event: seen.append(event.data))
        services.start()
        _until(lambda: {r.account for r in seen} == {"a1", "pp"}, "both reconciled")
        _until(lambda: not any(d.orders.blocked for d in services.desks), "orders unblocked")
        return services, seen

    services, seen = started()
    try:
        pp = services.select("pp")
        assert pp.portfolio.cash == pytest.approx(200_000.0)  # opened from its setting
        tick = services.market.get("600036.SSE")
        assert tick is not None
        marketable = OrderIntent("p-1", "600036.SSE", "buy", "limit", 500, tick.ask_price_1)
        assert services.orders.submit(marketable).accepted
        _until(lambda: pp.portfolio.qty("600036.SSE") == 500, "filled by the paper broker")
        resting = OrderIntent(
            "p-2", "600036.SSE", "buy", "limit", 100, round(tick.bid_price_1 * 0.98, 2)
        )
        assert services.orders.submit(resting).accepted
        assert services.bus.wait_idle()
        assert services.primary.portfolio.qty("600036.SSE") == 0  # a1 saw none of it
        cash = pp.portfolio.cash
        assert cash < 200_000.0 - 500 * tick.ask_price_1  # the price and the fees
        assert a.call("state")["orders"] == []  # nothing reached the real broker
    finally:
        services.stop()
    # A restart: the paper broker is restored from pp's journal, its order working again,
    # and the reconciliation at connect agrees with it.
    services, seen = started()
    try:
        pp = services.desk_of("pp")
        assert pp is not None and pp.portfolio.qty("600036.SSE") == 500
        assert pp.portfolio.cash == pytest.approx(cash)
        assert [r.differences for r in seen if r.account == "pp"] == [()]
        assert pp.control.state is TradingState.ACTIVE
        statement = accounts.statement_of(pp.venue)  # type: ignore[arg-type]
        assert statement.positions == {"600036.SSE": 500}
        assert [o.reference for o in statement.orders if o.status == "NOTTRADED"] == ["p-2"]
        assert pp.orders.working_ids() != []
    finally:
        services.stop()
