"""Pre-trade checks per second and latency per order, every rule on.

The real path: ``OrderService.check(intent)`` -- the order checks (state,
symbol, lot, tick, daily limits, T+1, cash) and all 15 risk rules, with the
context they read (quote and its age, the account marked to market, working
orders, recent sends, daily counts). The account holds 10 positions and 40
working orders; intents vary over 20 symbols, sides, sizes and prices (some
pass, some are refused). Targets: >= 20,000 checks/s, p99 <= 200 us.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import summary, write
from services.accounting.costs import CostConfig
from services.events import OrderIntent
from services.runtime import AccountConfig, build_services
from services.trading.risk import RiskConfig
from services.venues.simulator import SimConfig

CHECKS = 100_000


def main() -> None:
    data = Path(tempfile.mkdtemp(prefix="qd-bench-risk-"))
    services = build_services(
        data,
        sim=SimConfig(),
        costs=CostConfig(),
        account=AccountConfig(initial_cash=50_000_000),
        paced=False,
        risk=RiskConfig(max_active_orders=100, max_position_value=5_000_000),
    )
    services.start()
    services.gateway.advance(200)
    assert services.bus.wait_idle()
    symbols = [i.vt_symbol for i in services.universe.instruments]
    for n, symbol in enumerate(symbols[:10]):  # 10 positions
        tick = services.market.get(symbol)
        assert tick is not None
        result = services.orders.submit(
            OrderIntent(f"p{n}", symbol, "buy", "limit", 200, tick.ask_price_1)
        )
        assert result.accepted, result.violations
        time.sleep(0.11)  # stay under the 10 orders/s limit
    working = 0
    for n in range(40):  # 40 working orders just under the market
        symbol = symbols[n % 20]
        tick = services.market.get(symbol)
        assert tick is not None
        price = round(
            tick.bid_price_1 * (0.995 - 0.0005 * (n // 20)), 3 if tick.last_price < 10 else 2
        )
        inst = services.universe.get(symbol)
        price = inst.round_price(price)
        if services.orders.submit(
            OrderIntent(f"w{n}", symbol, "buy", "limit", 100, price)
        ).accepted:
            working += 1
        time.sleep(0.11)
    assert services.bus.wait_idle()
    services.gateway.advance(5)  # fresh quotes for the run
    assert services.bus.wait_idle()
    rng = random.Random(1)
    intents = []
    for n in range(1000):
        symbol = rng.choice(symbols)
        tick = services.market.get(symbol)
        assert tick is not None
        inst = services.universe.get(symbol)
        side = rng.choice(["buy", "sell"])
        price = inst.round_price(tick.last_price * (1 + rng.uniform(-0.05, 0.05)))
        qty = rng.choice([100, 200, 500, 1000, 150, 100_000])
        intents.append(OrderIntent(f"c{n}", symbol, side, "limit", qty, price))  # type: ignore[arg-type]
    check = services.orders.check
    for intent in intents:  # warm up
        check(intent)
    latencies = []
    refused = 0
    clock = time.perf_counter_ns
    start = time.perf_counter()
    for n in range(CHECKS):
        intent = intents[n % len(intents)]
        t0 = clock()
        verdict = check(intent)
        latencies.append((clock() - t0) / 1000)
        refused += bool(verdict)
    elapsed = time.perf_counter() - start
    services.stop()
    stats = summary(latencies)
    write(
        "risk_checks",
        {
            "checks": CHECKS,
            "rules": "order checks + 15 risk rules",
            "positions": len(services.portfolio.view().positions),
            "working_orders": working,
            "refused_fraction": round(refused / CHECKS, 3),
            "checks_per_s": round(CHECKS / elapsed),
            "latency_us": {k: round(v, 1) for k, v in stats.items()},
            "targets": {"checks_per_s": 20_000, "p99_us": 200},
        },
    )


if __name__ == "__main__":
    main()
