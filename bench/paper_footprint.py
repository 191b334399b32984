"""Paper mode's footprint with 50 symbols: CPU and bytes written to the terminal (issue 11).

Two runs of the installed ``quantdesk`` in a 160x48 pseudo-terminal, watchlist of 50
A-share symbols:

- ``paper``: paper mode against a local stand-in of the quote source (real HTTP, Sina's
  wire format). Outside the exchange's hours -- when this usually runs -- the feed takes
  its start-up snapshot and idles, as it does all night.
- ``replay``: a recording of the same 50 symbols polled every 3 s, played at real speed:
  the work of paper mode during a session (same gateway, parser and screens; no HTTP).

Target: paper mode idling <= 5 % of a core and <= 20 KB/s to the terminal.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import write
from bench.feed_poll import session_polls
from bench.footprint import measure
from services.feed import sina
from services.feed.sessions import TradingCalendar, exchange_now, phase
from services.instruments import instrument_for

SYMBOLS = [f"{600000 + i}.SSE" for i in range(50)]


def config(path: Path, url: str) -> Path:
    watch = ", ".join(f'"{s}"' for s in SYMBOLS)
    path.write_text(
        f'[app]\nmode = "paper"\n\n[feed]\nurl = "{url}"\n\n[watchlist]\nsymbols = [{watch}]\n'
        '\n[[strategies]]\nid = "none"\nstrategy = "ma_cross"\n'
        'symbols = ["600000.SSE"]\nenabled = false\n',
        encoding="utf-8",
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=12.0)
    args = parser.parse_args()
    from tests.unit.feed.sina_server import SinaServer

    runs = []
    insts = [i for i in (instrument_for(s) for s in SYMBOLS) if i is not None]
    polls = session_polls(insts, int((args.settle + args.seconds) / 3) + 20)
    with SinaServer() as server:
        parsed = sina.parse(polls[0].body, {i.vt_symbol: i for i in insts})
        last = {q.vt_symbol: q for q in parsed.quotes}
        server.quotes = last
        data = Path(tempfile.mkdtemp(prefix="qd-paper-fp-"))
        cfg = config(data / "config.toml", server.url)
        run = measure(48, 160, args.settle, args.seconds, "--config", str(cfg), data_dir=data)
        run["mode"] = "paper"
        run["feed_phase"] = phase(exchange_now(), TradingCalendar(list)).name
        run["requests"] = len(server.requests)
        runs.append(run)
    data = Path(tempfile.mkdtemp(prefix="qd-replay-fp-"))
    rec = data / "session.jsonl.gz"
    with gzip.open(rec, "wt", encoding="utf-8") as f:
        for poll in polls:
            f.write(json.dumps(asdict(poll), ensure_ascii=False) + "\n")
    cfg = config(data / "config.toml", "http://127.0.0.1:9")
    run = measure(
        48,
        160,
        args.settle,
        args.seconds,
        "--config",
        str(cfg),
        "--mode",
        "replay",
        str(rec),
        data_dir=data,
    )
    run["mode"] = "replay at real speed, a poll every 3 s"
    runs.append(run)
    for r in runs:
        print(r)
    write(
        "paper_footprint",
        {
            "symbols": len(SYMBOLS),
            "runs": runs,
            "targets": {"process_cpu_pct": 5, "terminal_kb_per_s": 20},
        },
    )


if __name__ == "__main__":
    main()
