"""The real vnpy_ctp gateway (the ``ctp`` extra, which .ci/run installs) from config.

No network exists here: only a front that cannot be reached is tried, and nothing
here claims a broker was reached.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from services.bus import Bus
from services.events import OrderIntent
from services.trading.accounts import LiveAccount, connect
from services.venues.accounts import AccountError, AccountSpec, gateway_class, gateway_setting
from tests.unit.venues.conftest import live_services

# vnpy_ctp imports vnpy.trader.utility, which makes ~/.vntrader with a bare mkdir: two
# pytest-xdist workers collecting this module at once on a fresh machine race on it
# (FileExistsError). Made first, race-free; vnpy then finds it (what it would make anyway).
(Path.home() / ".vntrader").mkdir(exist_ok=True)
pytest.importorskip("vnpy_ctp", reason="the ctp extra: pip install -e '.[ctp]'")

UNREACHABLE = "tcp://127.0.0.1:9"  # discard port: nothing listens
SPEC = AccountSpec(
    "c1",
    "vnpy_ctp:CtpGateway",
    {
        "交易服务器": UNREACHABLE,
        "行情服务器": UNREACHABLE,
        "用户名": "000000",
        "经纪商代码": "9999",
    },
    {"密码": "ctp.password"},
)


def test_the_ctp_gateway_loads_from_config_with_its_own_settings() -> None:
    cls = gateway_class(SPEC)
    assert cls.__name__ == "CtpGateway"
    setting = gateway_setting(SPEC, cls, lambda name: "from-the-keyring")
    assert setting["交易服务器"] == UNREACHABLE and setting["密码"] == "from-the-keyring"
    typo = AccountSpec("c1", "vnpy_ctp:CtpGateway", {"交易服务": UNREACHABLE})
    with pytest.raises(AccountError, match="did you mean '交易服务器'"):
        gateway_setting(typo, cls, lambda name: None)
    assert LiveAccount.load(SPEC, lambda name: "pw").spec is SPEC


def test_an_unreachable_front_fails_clearly_within_10_s_and_nothing_is_sent() -> None:
    bus = Bus()
    bus.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(AccountError) as failed:
            connect(SPEC, bus, lambda name: "pw", timeout=10)
    finally:
        bus.stop()
    assert time.monotonic() - t0 < 12  # 10 s, and the API's shutdown
    message = str(failed.value)
    assert "account c1: not connected to the broker within 10 s" in message
    assert f"is it reachable? 交易服务器 = {UNREACHABLE}" in message
    assert "nothing was sent" in message
    # Closed for good: its timer handler, which calls into the released API, is gone.
    owners = [getattr(h, "__self__", None) for hs in bus._handlers.values() for h in hs]
    assert not any(type(o).__name__ == "CtpGateway" for o in owners)


def test_live_mode_on_an_unreachable_front_refuses_every_order(tmp_path: Path) -> None:
    services = live_services(tmp_path / "data", replace(SPEC, quotes="sim"), secret="pw")
    services.start()
    try:
        time.sleep(1)  # the gateway is trying its front
        tick = services.market.get("600519.SSE")
        assert tick is not None
        intent = OrderIntent("c-1", "600519.SSE", "buy", "limit", 100, round(tick.bid_price_1, 2))
        result = services.orders.submit(intent)
        assert not result.accepted
        assert result.violations[0].message == "not now: not reconciled with the broker yet"
    finally:
        services.stop()
