"""A recording in the source's exact wire format, made from stored minute bars.

For the offline demo on real data, the tests and the benchmarks: each bar becomes
four polls in its minute (at :00, :15, :30 and :45) whose last prices are the
bar's open, high, low and close, with the bar's volume traded by the last one,
so the one-minute bars built from the replayed quotes are the stored bars again.
The touch is one tick either side of the last price, ``depth`` shares each.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

import pandas as pd

from services.feed import sina
from services.feed.source import RawPoll
from services.instruments import Instrument
from services.venues.quote import Quote

STEPS = (0, 15, 30, 45)  # seconds into the minute of each poll
FIELDS = ("open", "high", "low", "close")


def polls_from_bars(
    bars: Mapping[str, pd.DataFrame],
    instruments: Mapping[str, Instrument],
    prev_close: Mapping[str, float],
    depth: int = 5_000,
) -> Iterator[RawPoll]:
    """One poll per step of every minute that any symbol has a bar for."""
    minutes = sorted({ts for frame in bars.values() for ts in frame.index})
    state: dict[str, Quote] = {}
    for minute in minutes:
        start = pd.Timestamp(minute).to_pydatetime()
        for step, field in zip(STEPS, FIELDS, strict=True):
            at = start + timedelta(seconds=step)
            lines = []
            for vt_symbol, frame in bars.items():
                if minute not in frame.index:
                    if vt_symbol in state:  # no bar this minute: the quote repeats
                        lines.append(sina.format_line(replace(state[vt_symbol], at=at)))
                    continue
                row = frame.loc[minute]
                quote = _step(
                    state.get(vt_symbol),
                    instruments[vt_symbol],
                    prev_close[vt_symbol],
                    at,
                    float(row[field]),
                    int(row["volume"]) if field == "close" else 0,
                    depth,
                )
                state[vt_symbol] = quote
                lines.append(sina.format_line(quote))
            yield RawPoll(
                at.isoformat(timespec="milliseconds"),
                tuple(bars),
                200,
                "\n".join(lines) + "\n",
            )


def _step(
    last: Quote | None,
    inst: Instrument,
    prev_close: float,
    at: datetime,
    price: float,
    traded: int,
    depth: int,
) -> Quote:
    price = inst.round_price(price)
    down, up = inst.limits(prev_close)
    volume = (last.volume if last else 0) + traded
    turnover = (last.turnover if last else 0.0) + traded * price
    return Quote(
        vt_symbol=inst.vt_symbol,
        at=at,
        name=inst.name,
        last=price,
        prev_close=prev_close,
        open=last.open if last else price,
        high=max(last.high, price) if last else price,
        low=min(last.low, price) if last else price,
        bid=inst.round_price(max(down, price - inst.tick)),
        ask=inst.round_price(min(up, price + inst.tick)),
        bid_volume=depth,
        ask_volume=depth,
        volume=volume,
        turnover=turnover,
        limit_up=up,
        limit_down=down,
    )
