from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.store import Store, store_uri

REAL = Path(__file__).resolve().parents[4] / "shared" / "data" / "real"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(store_uri("", tmp_path), log_file=tmp_path / "arcticdb.log")
    s.open()
    yield s
