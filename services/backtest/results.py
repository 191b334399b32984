"""What a simulation did, as a run reports it: closed trades (vectorbt's trade records
of the kernel's orders, dividends included), the dividends received with the tax
withheld for them, and the positions still open at the end."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from services.backtest.engine import Panel, Simulation


TRADE_COLUMNS = [
    "symbol",
    "entry_time",
    "entry_price",
    "exit_time",
    "exit_price",
    "size",
    "pnl",
    "return",
    "fees",
]


def trades_of(
    sim: Simulation, panel: Panel, symbols: Sequence[str], window: tuple[int, int]
) -> pd.DataFrame:
    """Closed trades from vectorbt's trade records of the kernel's orders (open ones left out)."""
    import vectorbt as vbt
    from vectorbt.portfolio.enums import TradeStatus, log_dt

    start, stop = window
    close = pd.DataFrame(panel.close[start:stop], index=sim.index, columns=list(symbols))
    close = close.ffill()
    wrapper = vbt.base.array_wrapper.ArrayWrapper.from_obj(close, freq="1D")
    pf = vbt.Portfolio(
        wrapper,
        close,
        _with_bonus(sim),
        np.empty(0, dtype=log_dt),
        sim.init_cash,
        cash_sharing=False,
    )
    rec = pf.trades.records
    rec = rec[rec["status"] == TradeStatus.Closed]
    pnl = np.array(rec["pnl"], dtype=float)
    ret = np.array(rec["return"], dtype=float)
    d = sim.events
    if len(d):  # dividends received while a trade was open are part of its P&L
        col, first, last = (np.asarray(rec[k]) for k in ("col", "entry_idx", "exit_idx"))
        cost = np.asarray(rec["size"]) * np.asarray(rec["entry_price"])
        for j in range(len(pnl)):
            inside = (d[:, 0] == col[j]) & (d[:, 1] >= first[j]) & (d[:, 1] <= last[j])
            if inside.any():
                pnl[j] += d[inside, 2].sum()
                ret[j] = pnl[j] / cost[j]
    return pd.DataFrame(
        {
            "symbol": [symbols[c] for c in rec["col"]],
            "entry_time": sim.index[rec["entry_idx"]],
            "entry_price": rec["entry_price"],
            "exit_time": sim.index[rec["exit_idx"]],
            "exit_price": rec["exit_price"],
            "size": rec["size"],
            "pnl": pnl,
            "return": ret,
            "fees": rec["entry_fees"] + rec["exit_fees"],
        },
        columns=TRADE_COLUMNS,
    ).sort_values(["entry_time", "symbol"], kind="stable", ignore_index=True)


def _with_bonus(sim: Simulation) -> np.ndarray:
    """The order records with each position's bonus shares added to its entry at the same
    cost: a bigger position at a lower average price (vectorbt has no share-only event)."""
    orders = sim.orders.copy()
    for col, bar, _, _, extra in sim.events:
        if extra <= 0:
            continue
        buys = np.flatnonzero(
            (orders["col"] == col) & (orders["side"] == 0) & (orders["idx"] <= bar)
        )
        j = buys[-1]  # the open position's entry (one entry per position)
        size = orders["size"][j]
        orders["price"][j] *= size / (size + extra)
        orders["size"][j] = size + extra
    return orders


def open_at_end(sim: Simulation) -> int:
    """Positions still held at the window's end (bought and not sold)."""
    side, col = sim.orders["side"], sim.orders["col"]
    buys = np.bincount(col[side == 0], minlength=1)
    sells = np.bincount(col[side == 1], minlength=len(buys))
    return int((buys[: len(sells)] > sells[: len(buys)]).sum())


def dividends_of(sim: Simulation, panel: Panel, window: tuple[int, int]) -> list[dict[str, Any]]:
    """Each dividend the run received: symbol, ex-date, shares held, cash per share, the
    tax withheld for it at the sale (A-shares, by the holding period; 0 while still held)
    and what it left net (a point-in-time run; [] otherwise)."""
    out, taxed = [], []
    for col, bar, net, tax, _ in sim.events:
        i, s = int(bar), int(col)  # a run's columns are its symbols
        if tax > 0:  # a sale's withholding: the rate applies to that holding's dividends
            taxed.append((s, i, float(tax)))
            continue
        per_share = float(panel.div_cash[window[0] + i, s])
        if not per_share:
            continue  # bonus shares only: no cash
        out.append(
            {
                "symbol": panel.symbols[s],
                "ex_date": str(sim.index[i].date()),
                "shares": round(net / per_share),
                "per_share": per_share,
                "tax": 0.0,
                "net": round(float(net), 2),
                "_col": s,
                "_bar": i,
            }
        )
    for s, sold, tax in taxed:  # spread each withholding over the dividends it was for
        mine = [d for d in out if d["_col"] == s and d["_bar"] <= sold and d["tax"] == 0.0]
        held = [d for d in mine if d["_bar"] >= _bought(sim, s, sold)]
        gross = sum(d["net"] for d in held)
        for d in held:
            d["tax"] = round(tax * d["net"] / gross, 2) if gross else 0.0
            d["net"] = round(d["net"] - d["tax"], 2)
    for d in out:
        del d["_col"], d["_bar"]
    return out


def _bought(sim: Simulation, col: int, sold: int) -> int:
    """The bar of the buy that opened the position sold on bar ``sold``."""
    orders = sim.orders
    buys = orders["idx"][(orders["col"] == col) & (orders["side"] == 0) & (orders["idx"] <= sold)]
    return int(buys.max()) if len(buys) else 0
