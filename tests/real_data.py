"""Where the real bars are: shared/ beside the repository (as in CI), or $QUANTDESK_REAL_DATA."""

from __future__ import annotations

import os
from pathlib import Path

REAL = Path(
    os.environ.get("QUANTDESK_REAL_DATA")
    or Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
)
if not (REAL / "orcl-1995-2014.txt").exists():
    raise RuntimeError(
        f"real market data not found in {REAL}: check out shared/ beside the repository "
        "or set QUANTDESK_REAL_DATA to the folder holding orcl-1995-2014.txt"
    )
