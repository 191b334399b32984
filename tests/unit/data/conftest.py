from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.store import Store, store_uri
from tests.real_data import REAL

__all__ = ["REAL"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(store_uri("", tmp_path), log_file=tmp_path / "arcticdb.log")
    s.open()
    yield s
