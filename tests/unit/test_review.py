"""The review queue: proposals wait for a decision, go out through the order path,
go stale, and are swept away by the kill switch; pending ones survive a restart."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from services.events import OrderIntent, TradingState
from services.runtime import Services
from services.trading.live import Proposal
from services.trading.review import ReviewError
from tests.conftest import make_services


def proposal(
    svc: Services, n: int, side: str = "buy", strategy: str = "s1", qty: int = 100
) -> Proposal:
    tick = svc.market.get("510300.SSE")
    assert tick is not None
    price = tick.ask_price_1 if side == "buy" else tick.bid_price_1
    intent = OrderIntent(
        f"p{n}", "510300.SSE", side, "limit", qty, price, source=f"strategy:{strategy}"
    )  # type: ignore[arg-type]
    return Proposal(
        intent,
        strategy,
        "MA(5) crossed above MA(20) at 10:01",
        price,
        datetime(2026, 11, 23, 10, 1),
    )


@pytest.fixture
def svc(services: Services) -> Services:
    services.gateway.advance(20)
    assert services.bus.wait_idle()
    return services


def test_approve_sends_through_the_order_path_and_journals_the_decision(svc: Services) -> None:
    review = svc.review
    review.propose(proposal(svc, 1), auto=False)
    [item] = review.items()
    assert (
        item.stale == ""
        and item.verdict == ()
        and item.notional == pytest.approx(100 * item.proposal.intent.price)
    )
    result = review.approve("p1")
    assert result.accepted and review.items() == []
    kinds = [e["kind"] for e in svc.journal.entries() if e["ref"] == "p1"]
    assert kinds == ["proposed", "approved", "intent", "submit"]
    with pytest.raises(ReviewError, match="no pending proposal p1"):
        review.approve("p1")


def test_reject_edit_and_the_risk_verdict_shown_before_approval(svc: Services) -> None:
    review = svc.review
    review.propose(proposal(svc, 2, qty=150), auto=False)  # not a lot multiple
    [item] = review.items()
    assert [v.rule for v in item.verdict] == ["lot_size"]
    result = review.approve("p2", qty=200)  # edited: a new intent id, the checks pass
    assert result.accepted and result.intent.intent_id == "p2-e" and result.intent.qty == 200
    review.propose(proposal(svc, 3), auto=False)
    assert review.reject("p3") and review.items() == []
    assert svc.journal.entries("declined", "p3")[0]["payload"]["reason"] == "rejected by the trader"


def test_a_stale_proposal_cannot_be_approved_as_it_is(svc: Services) -> None:
    review = svc.review
    old = replace(proposal(svc, 4), proposed_at=time.monotonic() - 1000)
    moved = replace(proposal(svc, 5), ref_price=proposal(svc, 5).ref_price * 1.05)
    review.propose(old, auto=False)
    review.propose(moved, auto=False)
    stale = {i.proposal.intent.intent_id: i.stale for i in review.items()}
    assert stale["p4"].startswith("stale: proposed 1000 s ago")
    assert stale["p5"].startswith("stale: the price moved 4.8% since proposed")
    with pytest.raises(ReviewError, match="edit it \\(e\\) to re-price, or reject it"):
        review.approve("p4")
    tick = svc.market.get("510300.SSE")
    assert tick is not None
    assert review.approve("p4", price=tick.ask_price_1).accepted  # an edit re-prices it


def test_approve_all_and_reject_all_act_on_one_strategy(svc: Services) -> None:
    review = svc.review
    review.propose(proposal(svc, 6, strategy="a"), auto=False)
    review.propose(replace(proposal(svc, 7, strategy="a"), proposed_at=0.0), auto=False)  # stale
    review.propose(proposal(svc, 8, strategy="b", qty=200), auto=False)
    results = review.approve_all("a")
    assert sum(1 for r in results if not isinstance(r, str) and r.accepted) == 1
    assert next(r for r in results if isinstance(r, str)).startswith("stale")
    assert review.reject_all("a", "test") == 1
    assert [i.proposal.strategy_id for i in review.items()] == ["b"]


def test_auto_approval_skips_the_wait_not_the_checks(svc: Services) -> None:
    review = svc.review
    review.propose(proposal(svc, 9, qty=150), auto=True)  # refused by the lot check
    assert review.items() == []
    [entry] = svc.journal.entries("intent", "p9")
    assert entry["payload"]["verdict"] == "rejected"


def test_the_kill_switch_stops_strategies_and_rejects_every_proposal(svc: Services) -> None:
    review, live = svc.review, svc.live
    review.propose(proposal(svc, 10), auto=False)
    live.running.add("anything")
    svc.kill_switch("test")
    assert svc.control.state is TradingState.HALTED
    assert review.items() == [] and live.running == set()
    assert svc.journal.entries("declined", "p10")[0]["payload"]["reason"] == "test"


def test_pending_proposals_come_back_after_a_restart_as_stale(tmp_path: Path) -> None:
    first = make_services(tmp_path)
    first.start()
    first.gateway.advance(20)
    assert first.bus.wait_idle()
    first.review.propose(proposal(first, 11), auto=False)
    first.review.propose(proposal(first, 12), auto=False)
    first.review.reject("p12")
    first.stop()
    again = make_services(tmp_path)
    try:
        [item] = again.review.items()
        assert (
            item.proposal.intent.intent_id == "p11"
            and item.stale == "stale: proposed before the restart"
        )
        assert any("1 strategy proposals were awaiting review" in n for n in again.recovery_notes)
    finally:
        again.stop()
