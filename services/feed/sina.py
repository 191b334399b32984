"""Sina's batched Level-1 quote endpoint (``hq.sinajs.cn``): request and parse.

Why this source (README, "Live quotes"): one GET carries up to ~800 codes, so
a watchlist of any sensible size is one request per poll; AkShare's
``stock_zh_a_spot_em`` pages through the whole market (~1 min a snapshot)
and ``stock_bid_ask_em`` is one untimed request per symbol.

The wire format, one line per requested code, GBK-encoded::

    var hq_str_sh600519="贵州茅台,open,prev_close,last,high,low,bid,ask,volume,turnover,
        b1_vol,b1,…,b5_vol,b5,a1_vol,a1,…,a5_vol,a5,YYYY-MM-DD,HH:MM:SS,status[,]";

Volumes are in shares, turnover in CNY. An unknown code answers ``=""``. The
status is ``00`` while the symbol trades; any other value (``02``/``03``
suspended, ``-2`` not listed, ``-3`` delisted, …) means it does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from services.instruments import Instrument
from services.venues.quote import Quote

NAME = "sina"
URL = "https://hq.sinajs.cn"
HEADERS = {
    # Without a Referer from Sina's own pages the endpoint answers 403 Forbidden.
    "Referer": "https://finance.sina.com.cn/",
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) quantdesk",
}
MAX_CODES = 800  # per request; Sina accepts ~850 before truncating the list
PREFIX = {"SSE": "sh", "SZSE": "sz"}
EXCHANGE = {v: k for k, v in PREFIX.items()}
FIELDS = 32  # name … status; newer answers add a trailing comma (33)
TRADING = "00"


class FeedFormatError(ValueError):
    """A response that is not the source's quote format (an HTML page, a truncated body)."""


@dataclass(frozen=True)
class Parsed:
    """What one response held: quotes, codes the source does not know, suspended symbols."""

    quotes: tuple[Quote, ...]
    unknown: tuple[str, ...]  # vt_symbols answered with ""
    halted: tuple[tuple[str, str], ...]  # (vt_symbol, status) of symbols not trading today


def code_of(vt_symbol: str) -> str:
    """``600519.SSE`` → ``sh600519``."""
    code, _, exchange = vt_symbol.partition(".")
    return PREFIX[exchange] + code


def request_url(vt_symbols: list[str], base: str = URL) -> str:
    """The one GET for ``vt_symbols`` (at most :data:`MAX_CODES`)."""
    return f"{base.rstrip('/')}/list=" + ",".join(code_of(s) for s in vt_symbols)


def decode(content: bytes) -> str:
    """Sina answers in GBK whatever its headers say."""
    return content.decode("gbk", errors="replace")


def parse(text: str, instruments: dict[str, Instrument]) -> Parsed:
    """Every quote line of ``text``. Raises :class:`FeedFormatError` when the body is not
    this format at all or a line is cut short: a partial answer is never half-applied."""
    quotes: list[Quote] = []
    unknown: list[str] = []
    halted: list[tuple[str, str]] = []
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        raise FeedFormatError("empty response")
    for line in lines:
        head, sep, rest = line.partition('="')
        if not sep or not head.startswith("var hq_str_") or not rest.rstrip().endswith('";'):
            raise FeedFormatError(f"not a quote line: {line[:60]!r}")
        code = head[len("var hq_str_") :]
        exchange = EXCHANGE.get(code[:2])
        if exchange is None:
            raise FeedFormatError(f"unexpected code {code!r}")
        vt_symbol = f"{code[2:]}.{exchange}"
        body = rest.rstrip()[:-2]
        if not body:
            unknown.append(vt_symbol)
            continue
        f = body.split(",")
        if len(f) < FIELDS:
            raise FeedFormatError(f"{vt_symbol}: {len(f)} fields, expected {FIELDS}")
        status = f[32] if len(f) > 32 else TRADING
        inst = instruments.get(vt_symbol)
        if inst is None:
            continue  # answered, but not asked for by anyone here
        try:
            quote = _quote(vt_symbol, f, inst, status != TRADING)
        except ValueError as exc:
            raise FeedFormatError(f"{vt_symbol}: {exc}") from None
        if status != TRADING:
            halted.append((vt_symbol, status))
        quotes.append(quote)
    return Parsed(tuple(quotes), tuple(unknown), tuple(halted))


def _num(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"bad number {text!r}")
    return value


def _quote(vt_symbol: str, f: list[str], inst: Instrument, halted: bool) -> Quote:
    prev_close = _num(f[2])
    last = _num(f[3])
    down, up = inst.limits(prev_close) if prev_close else (0.0, 0.0)
    return Quote(
        vt_symbol=vt_symbol,
        at=datetime.fromisoformat(f"{f[30]}T{f[31]}"),
        name=f[0],
        open=_num(f[1]),
        prev_close=prev_close,
        last=last,
        high=_num(f[4]),
        low=_num(f[5]),
        bid=_num(f[11]),
        ask=_num(f[21]),
        bid_volume=int(_num(f[10])),
        ask_volume=int(_num(f[20])),
        volume=int(_num(f[8])),
        turnover=_num(f[9]),
        limit_up=up,
        limit_down=down,
        suspended=halted,
    )


def format_line(q: Quote, status: str = TRADING) -> str:
    """``q`` as Sina sends it (the inverse of :func:`parse`): recordings made from stored
    bars, the benchmarks and the tests speak the source's exact format. Only the touch
    is known, so levels 2–5 are empty, as Sina sends them for a one-sided book."""
    px = "{:.3f}".format
    book = [str(q.bid_volume), px(q.bid), *("0", "0.000") * 4]
    book += [str(q.ask_volume), px(q.ask), *("0", "0.000") * 4]
    fields = [
        q.name,
        px(q.open),
        px(q.prev_close),
        px(q.last),
        px(q.high),
        px(q.low),
        px(q.bid),
        px(q.ask),
        str(q.volume),
        px(q.turnover),
        *book,
        q.at.strftime("%Y-%m-%d"),
        q.at.strftime("%H:%M:%S"),
        status,
    ]
    return f'var hq_str_{code_of(q.vt_symbol)}="{",".join(fields)}";'
