from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.store import Store, store_uri

# The real bars live in shared/ beside the repository (as in CI); override with an env var.
REAL = Path(
    os.environ.get("QUANTDESK_REAL_DATA")
    or Path(__file__).resolve().parents[4] / "shared" / "data" / "real"
)
if not (REAL / "orcl-1995-2014.txt").exists():
    raise RuntimeError(
        f"real market data not found in {REAL}: check out shared/ beside the repository "
        "or set QUANTDESK_REAL_DATA to the folder holding orcl-1995-2014.txt"
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(store_uri("", tmp_path), log_file=tmp_path / "arcticdb.log")
    s.open()
    yield s
