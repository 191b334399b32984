"""The ArcticDB store on LMDB under the data directory."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from services.store import LIBRARIES, Store, StoreError, store_uri


def test_default_uri_is_lmdb_under_the_data_dir(tmp_path: Path) -> None:
    assert store_uri("", tmp_path) == f"lmdb://{tmp_path / 'arctic'}"
    assert store_uri("s3://host:bucket", tmp_path) == "s3://host:bucket"


def test_open_creates_the_libraries_and_round_trips_bars_through_store(tmp_path: Path) -> None:
    """Through Store's own write (validation, metadata) and read, across a reopen."""
    store = Store(store_uri("", tmp_path))
    info = store.open()
    assert set(LIBRARIES) <= set(info.libraries)
    index = pd.DatetimeIndex(pd.date_range("2026-01-05", periods=2), name="datetime")
    frame = pd.DataFrame(
        {
            "open": [1.0, 2.0],
            "high": [1.5, 2.5],
            "low": [0.9, 1.9],
            "close": [1.2, 2.2],
            "volume": [100.0, 200.0],
            "amount": [120.0, 440.0],
        },
        index=index,
    )
    result = store.write_bars("X.US", "1d", frame, source="test")
    assert result.stored == 2 and result.quarantined == 0
    reopened = Store(store.uri)
    reopened.open()
    got = reopened.read_bars("X.US", "1d")
    pd.testing.assert_frame_equal(got[frame.columns], frame, check_freq=False)
    meta = reopened.meta("X.US", "1d")
    assert meta is not None and meta.source == "test" and meta.rows == 2


def test_a_bad_uri_gives_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open the ArcticDB store nosuch://x"):
        Store("nosuch://x").open()
    with pytest.raises(StoreError, match="not open yet"):
        Store(store_uri("", tmp_path)).library("bars_1d")
