"""The simulation loop, compiled with numba and cached on disk.

vectorbt has no minimum commission and no sell-only stamp duty, and its
``from_order_func`` costs ~5x ``from_signals`` (a context object per bar and
column), so the order logic lives here: one pass over bars, groups of columns
sharing cash, orders written as vectorbt order records (``order_dt``) that
``vectorbt.Portfolio`` then reads for trades and plots.

Rules, per column (one symbol under one parameter combination):

- Long only, one position at a time, no pyramiding.
- A signal on bar t is executed at bar t+1's open (``next_open``) or at bar
  t's close; the signal of the bar before the window fills at its first bar. A bar
  whose price is NaN (suspended) cannot trade, nor can a sealed limit bar (high equal
  to low at the day's limit: no buy at limit-up, no sell at limit-down, the limits
  from the previous close and the board's rule, as the paper broker's); the order
  waits for the next signal.
- ``flat_at_end`` (walk-forward windows): the window's last bar sells what is held at
  its close and takes no entry, so each window trades flat to flat; a position that
  cannot be sold there (suspended, sealed) stays open and is reported.
- Exits before entries within a bar, so sells free cash for buys in the group.
  A column that closed a position on a bar does not re-enter on that bar.
- T+1: shares bought on a day cannot be sold that day. An exit that would
  execute on the entry's day (on minute bars) is dropped and the position
  waits for the next exit signal, as the live runner's proposal is; stops
  start on the next day's first bar (on daily bars, the bar after the entry).
  A gap through a stop fills at the open; otherwise a stop-loss or trailing
  stop fills at its level when the low reaches it, a take-profit when the
  high does. The trailing stop follows the highest high up to the previous bar.
- Size is rounded down to the symbol's lot and cut until cash covers price,
  commission (with its minimum), stamp duty and transfer fee. Each fee is
  rounded to the cent, as a broker's statement is.
- Corporate actions (point-in-time runs on raw prices): on an ex-date bar a
  held position receives its cash dividend and its
  bonus shares (rounded down to whole shares). Both are written to ``events``
  (vectorbt has no such order: results.trades_of spreads the entry's cost over
  the grown position, as a real account's cost basis). Stop levels move to
  the ex-date's reference price. A-share dividends are paid gross on the ex-date
  and taxed at the sale, by the whole holding period in calendar months (held up to
  one month 20 %, up to a year 10 %, longer none), as the broker withholds it: the
  tax is an event row of its own at the sale (negative cash).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from services.accounting.costs import cents
from services.backtest.dates_nb import dividend_tax_rate
from services.backtest.spec import (
    N_STATS,
    SIZE_NOTIONAL,
    SIZE_QUANTITY,
    STAT_HELD,
    STAT_LOSS,
    STAT_PROFIT,
    STAT_TRADES,
    STAT_WINS,
)

_cents = njit(cache=True)(cents)  # the paper broker's rounding, compiled


@njit(cache=True)
def fees_nb(
    size: float,
    price: float,
    is_sell: bool,
    comm_rate: float,
    comm_min: float,
    stamp_buy: float,
    stamp_sell: float,
    transfer: float,
) -> float:
    """Commission (at least ``comm_min``), stamp duty for the side, transfer fee."""
    notional = size * price
    commission = _cents(max(notional * comm_rate, comm_min))
    stamp = _cents(notional * (stamp_sell if is_sell else stamp_buy))
    return commission + stamp + _cents(notional * transfer)


@njit(cache=True)
def affordable_nb(
    want: float,
    price: float,
    cash: float,
    lot: float,
    comm_rate: float,
    comm_min: float,
    stamp_buy: float,
    transfer: float,
) -> float:
    """``want`` rounded down to lots and cut until ``cash`` pays for it with fees."""
    size = np.floor(want / lot + 1e-9) * lot
    cap = np.floor(cash / (price * (1.0 + comm_rate + stamp_buy + transfer)) / lot) * lot
    if cap < size:
        size = cap
    while size > 0:
        cost = size * price + fees_nb(
            size, price, False, comm_rate, comm_min, stamp_buy, 0.0, transfer
        )
        if cost <= cash + 1e-9:
            break
        size -= lot
    return float(max(size, 0.0))


@njit(cache=True)
def sealed_nb(high: float, low: float, ref: float, pct: float, tick: float, up: bool) -> bool:
    """A one-price bar at the day's limit-up (``up``) or limit-down: nothing trades
    there (limits from the reference price ``ref`` and the board's ``pct``)."""
    if pct <= 0 or high != low or np.isnan(ref):
        return False
    factor = 1.0 + pct if up else 1.0 - pct
    limit = np.floor(ref * factor / tick + 0.5 + 1e-9) * tick
    return bool(abs(high - limit) < tick * 0.5)


@njit(cache=True)
def _record_nb(
    orders: np.ndarray, k: int, c: int, i: int, size: float, px: float, fee: float, side: int
) -> None:
    """Write order record ``k`` (vectorbt's ``order_dt``; side 0 buy, 1 sell)."""
    orders[k]["id"] = k
    orders[k]["col"] = c
    orders[k]["idx"] = i
    orders[k]["size"] = size
    orders[k]["price"] = px
    orders[k]["fees"] = fee
    orders[k]["side"] = side


@njit(cache=True)
def simulate_nb(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    div_cash: np.ndarray,
    share_ratio: np.ndarray,
    day: np.ndarray,
    entries: np.ndarray,
    exits: np.ndarray,
    col_sym: np.ndarray,
    group_start: np.ndarray,
    group_end: np.ndarray,
    init_cash: np.ndarray,
    costs: np.ndarray,
    size_mode: int,
    size_value: float,
    stop_loss: float,
    take_profit: float,
    trailing: float,
    next_open: bool,
    orders: np.ndarray,
    events: np.ndarray,
    prev_entries: np.ndarray,
    flat_at_end: bool,
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, int]:
    """Run every group; returns orders written, value (bars, groups), stats per column,
    per group the bars on which it held anything, and the corporate-action rows written
    to ``events`` (column, bar, net cash, tax withheld, bonus shares).

    ``costs`` has one row per symbol: lot, commission rate, commission minimum,
    stamp duty on buys, stamp duty on sells, transfer fee rate, dividend tax (0/1),
    daily limit (a fraction; 0: none), price tick. ``prev_entries``: each column's
    entry signal on the bar before the window.
    """
    n_bars = close.shape[0]
    n_cols = entries.shape[1]
    n_groups = group_start.shape[0]
    value = np.empty((n_bars, n_groups))
    stats = np.zeros((n_cols, N_STATS))
    group_held = np.zeros(n_groups)
    pos = np.zeros(n_cols)
    entry_price = np.zeros(n_cols)
    entry_cost = np.zeros(n_cols)
    peak = np.zeros(n_cols)
    entry_day = np.full(n_cols, -1)
    div_gross = np.zeros(n_cols)  # dividends the open position received, taxed at its sale
    last = np.full(close.shape[1], np.nan)  # last valid close per symbol
    cash = init_cash.copy()
    k = 0
    kd = 0
    for i in range(n_bars):
        acted = False  # any corporate action on this bar (rare: skip the column loop)
        for s in range(close.shape[1]):  # the last close, as the ex-date's reference price
            if share_ratio[i, s] != 1.0 or div_cash[i, s] != 0.0:
                last[s] = (last[s] - div_cash[i, s]) / share_ratio[i, s]
                acted = True
        for g in range(n_groups):
            # -- corporate actions on held positions, before anything trades -----------
            for c in range(group_start[g], group_end[g] if acted else group_start[g]):
                s = col_sym[c]
                if pos[c] <= 0 or (share_ratio[i, s] == 1.0 and div_cash[i, s] == 0.0):
                    continue
                net = 0.0
                tax = 0.0
                if div_cash[i, s] > 0:
                    net = _cents(pos[c] * div_cash[i, s])  # gross: any tax is due at the sale
                    cash[g] += net
                    entry_cost[c] -= net  # the trade's P&L includes what it paid
                    div_gross[c] += net
                grown = np.floor(pos[c] * share_ratio[i, s] + 1e-9)
                events[kd, 0] = c
                events[kd, 1] = i
                events[kd, 2] = net
                events[kd, 3] = tax
                events[kd, 4] = grown - pos[c]
                kd += 1
                pos[c] = grown
                entry_price[c] = (entry_price[c] - div_cash[i, s]) / share_ratio[i, s]
                peak[c] = (peak[c] - div_cash[i, s]) / share_ratio[i, s]
            equity = cash[g]
            for c in range(group_start[g], group_end[g]):
                if pos[c] > 0:
                    equity += pos[c] * last[col_sym[c]]
            closed_now = np.zeros(group_end[g] - group_start[g], dtype=np.bool_)
            last_bar = flat_at_end and i == n_bars - 1
            # -- exits -----------------------------------------------------------------
            for c in range(group_start[g], group_end[g]):
                if pos[c] <= 0:
                    continue
                s = col_sym[c]
                o, h, lo, cl = open_[i, s], high[i, s], low[i, s], close[i, s]
                if sealed_nb(h, lo, last[s], costs[s, 7], costs[s, 8], False):
                    continue  # sealed at limit-down: nobody buys, not even a stop's sale
                px = np.nan
                sellable = day[i] > entry_day[c]  # T+1
                if next_open and i > 0 and exits[i - 1, c] and sellable and not np.isnan(o):
                    px = o
                if np.isnan(px) and sellable and not np.isnan(o):
                    level = -np.inf
                    if stop_loss > 0:
                        level = entry_price[c] * (1.0 - stop_loss)
                    if trailing > 0:
                        level = max(level, peak[c] * (1.0 - trailing))
                    target = entry_price[c] * (1.0 + take_profit) if take_profit > 0 else np.inf
                    if o <= level or o >= target:
                        px = o
                    elif lo <= level:
                        px = level
                    elif h >= target:
                        px = target
                if np.isnan(px) and sellable and not next_open and exits[i, c]:
                    px = cl  # NaN when the bar has no close: no exit
                if np.isnan(px) and sellable and last_bar:
                    px = cl  # the window ends flat (NaN when suspended: it stays open)
                if not np.isnan(h) and h > peak[c]:
                    peak[c] = h
                if np.isnan(px):
                    continue
                size = pos[c]
                fee = fees_nb(
                    size, px, True, costs[s, 1], costs[s, 2], costs[s, 3], costs[s, 4], costs[s, 5]
                )
                cash[g] += size * px - fee
                pnl = size * px - fee - entry_cost[c]
                if div_gross[c] > 0:  # the dividends' tax, withheld now by the holding period
                    tax = 0.0
                    if costs[s, 6] > 0:
                        tax = _cents(div_gross[c] * dividend_tax_rate(entry_day[c], day[i]))
                    if tax > 0:
                        cash[g] -= tax
                        pnl -= tax
                        events[kd, 0] = c
                        events[kd, 1] = i
                        events[kd, 2] = -tax
                        events[kd, 3] = tax
                        events[kd, 4] = 0.0
                        kd += 1
                    div_gross[c] = 0.0
                stats[c, STAT_TRADES] += 1
                if pnl > 0:
                    stats[c, STAT_WINS] += 1
                    stats[c, STAT_PROFIT] += pnl
                else:
                    stats[c, STAT_LOSS] -= pnl
                _record_nb(orders, k, c, i, size, px, fee, 1)
                k += 1
                pos[c] = 0.0
                closed_now[c - group_start[g]] = True
            # -- entries ---------------------------------------------------------------
            for c in range(group_start[g], group_end[g]):
                if pos[c] > 0 or closed_now[c - group_start[g]] or last_bar:
                    continue
                s = col_sym[c]
                px = np.nan
                if next_open:
                    if entries[i - 1, c] if i > 0 else prev_entries[c]:
                        px = open_[i, s]
                elif entries[i, c]:
                    px = close[i, s]
                if np.isnan(px) or px <= 0:
                    continue
                if sealed_nb(high[i, s], low[i, s], last[s], costs[s, 7], costs[s, 8], True):
                    continue  # sealed at limit-up: nobody sells; the order waits for a signal
                if size_mode == SIZE_QUANTITY:
                    want = size_value
                elif size_mode == SIZE_NOTIONAL:
                    want = size_value / px
                else:
                    want = size_value * equity / px
                size = affordable_nb(
                    want,
                    px,
                    cash[g],
                    costs[s, 0],
                    costs[s, 1],
                    costs[s, 2],
                    costs[s, 3],
                    costs[s, 5],
                )
                if size <= 0:
                    continue
                fee = fees_nb(
                    size, px, False, costs[s, 1], costs[s, 2], costs[s, 3], costs[s, 4], costs[s, 5]
                )
                cash[g] -= size * px + fee
                pos[c] = size
                entry_price[c] = px
                entry_cost[c] = size * px + fee
                peak[c] = px
                if next_open and not np.isnan(high[i, s]) and high[i, s] > px:
                    peak[c] = high[i, s]  # the bar's high came after an entry at its open
                entry_day[c] = day[i]
                _record_nb(orders, k, c, i, size, px, fee, 0)
                k += 1
            # -- value at the close ----------------------------------------------------
            total = cash[g]
            holds = False
            for c in range(group_start[g], group_end[g]):
                if pos[c] > 0:
                    holds = True
                    s = col_sym[c]
                    mark = close[i, s] if not np.isnan(close[i, s]) else last[s]
                    total += pos[c] * mark
                    stats[c, STAT_HELD] += 1
            value[i, g] = total
            if holds:
                group_held[g] += 1
        for s in range(close.shape[1]):  # after every group: sizing must not see today's close
            if not np.isnan(close[i, s]):
                last[s] = close[i, s]
    return k, value, stats, group_held, kd
