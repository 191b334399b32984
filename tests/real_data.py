"""Where the real bars are: vendored in tests/data/real (public price histories; see its
README for provenance), or $QUANTDESK_REAL_DATA to point the tests at another copy."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

REAL = Path(
    os.environ.get("QUANTDESK_REAL_DATA") or Path(__file__).resolve().parent / "data" / "real"
)
if not (REAL / "orcl-1995-2014.txt").exists():
    raise RuntimeError(
        f"real market data not found in {REAL}: the repository vendors it in tests/data/real; "
        "set QUANTDESK_REAL_DATA to the folder holding orcl-1995-2014.txt to use another copy"
    )


def yahoo(name: str) -> pd.DataFrame:
    """A vendored Yahoo daily file (``orcl-1995-2014.txt``, ...) as raw OHLCV bars: the
    columns lower-cased, Adj Close dropped, the index named ``datetime``."""
    frame = pd.read_csv(REAL / name, parse_dates=["Date"], index_col="Date")
    frame = frame.rename(columns=str.lower).drop(columns=["adj close"])
    frame.index.name = "datetime"
    return frame
