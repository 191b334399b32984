"""The simulated market: deterministic per seed, inside the limits, on the session clock."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.instruments import DEFAULT_UNIVERSE, Instrument, limit_pct_for
from services.settings import ConfigValueError
from services.venues.simulator import SimConfig, SimMarket


def run(seed: int, steps: int, **kw: object) -> list[tuple[str, float, float, float, int]]:
    market = SimMarket(DEFAULT_UNIVERSE, SimConfig(seed=seed, **kw))  # type: ignore[arg-type]
    out = []
    for _ in range(steps):
        q, _ = market.step()
        out.append((q.vt_symbol, q.last, q.bid, q.ask, q.volume))
    return out


def test_same_seed_same_quotes_and_different_seed_different_quotes() -> None:
    assert run(7, 2000) == run(7, 2000)
    assert run(7, 2000) != run(8, 2000)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    volatility=st.floats(0.0, 5.0),
    speed=st.sampled_from([1.0, 60.0, 600.0, 3600.0]),
)
def test_prices_never_break_the_daily_limits(seed: int, volatility: float, speed: float) -> None:
    market = SimMarket(DEFAULT_UNIVERSE, SimConfig(seed=seed, volatility=volatility, speed=speed))
    inst = {i.vt_symbol: i for i in DEFAULT_UNIVERSE}
    for _ in range(3000):
        q, _ = market.step()
        down, up = inst[q.vt_symbol].limits(q.prev_close)
        assert (q.limit_down, q.limit_up) == (down, up)
        assert down <= q.last <= up
        assert q.low <= q.last <= q.high
        assert inst[q.vt_symbol].is_on_tick(q.last)
        if q.bid and q.ask:
            assert q.bid < q.ask


def test_limit_percentages_by_board_and_name() -> None:
    assert limit_pct_for("600519", "贵州茅台") == 0.10
    assert limit_pct_for("300750", "宁德时代") == 0.20
    assert limit_pct_for("688981", "中芯国际") == 0.20
    assert limit_pct_for("000001", "ST平安") == 0.05
    assert limit_pct_for("300001", "*ST某某") == 0.05  # ST overrides the board


def test_limit_prices_round_half_up_to_the_tick() -> None:
    stock = Instrument("600000", "SSE", "x", "stock", 10.0)
    assert stock.limits(10.05) == (9.05, 11.06)  # 11.055 rounds up
    etf = Instrument("510300", "SSE", "x", "etf", 4.0, tick=0.001)
    assert etf.limits(4.612) == (4.151, 5.073)


def test_clock_skips_lunch_and_rolls_to_the_next_weekday() -> None:
    # 100 instruments-worth of steps: 3600 s per step -> every step is one simulated hour
    market = SimMarket(
        DEFAULT_UNIVERSE, SimConfig(speed=3600, ticks_per_second=1, start="2026-11-27T10:45:00")
    )
    market.step()  # 11:45 would be lunch -> 13:00
    assert market.clock == datetime(2026, 11, 27, 13, 0)
    market.step()  # 14:00
    prev = {q.vt_symbol: q.last for q in market.quotes()}
    _, rolled = market.step()  # 15:00 is closed -> Monday 09:30 (27th is a Friday)
    assert rolled
    assert market.clock == datetime(2026, 11, 30, 9, 30)
    for q in market.quotes():
        if q.vt_symbol != DEFAULT_UNIVERSE[2].vt_symbol:  # one moved after the roll
            assert q.prev_close == prev[q.vt_symbol]
            assert q.volume == 0


@pytest.mark.parametrize(
    ("kw", "key"),
    [
        ({"speed": 0}, "speed"),
        ({"start": "2026-11-28T10:00:00"}, "start"),
        ({"start": "noon"}, "start"),
        ({"ticks_per_second": -1}, "ticks_per_second"),
    ],
)
def test_bad_sim_config_names_the_key(kw: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigValueError) as err:
        SimConfig(**kw)  # type: ignore[arg-type]
    assert err.value.key == key
