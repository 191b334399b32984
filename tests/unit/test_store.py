"""The ArcticDB store on LMDB under the data directory."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from services.store import LIBRARIES, Store, StoreError, store_uri


def test_default_uri_is_lmdb_under_the_data_dir(tmp_path: Path) -> None:
    assert store_uri("", tmp_path) == f"lmdb://{tmp_path / 'arctic'}"
    assert store_uri("s3://host:bucket", tmp_path) == "s3://host:bucket"


def test_open_creates_the_libraries_and_round_trips_data(tmp_path: Path) -> None:
    store = Store(store_uri("", tmp_path))
    info = store.open()
    assert set(LIBRARIES) <= set(info.libraries)
    frame = pd.DataFrame({"close": [1.0, 2.0]}, index=pd.date_range("2026-01-05", periods=2))
    store.library("bars_1d").write("600519.SSE", frame)
    reopened = Store(store.uri)
    reopened.open()
    pd.testing.assert_frame_equal(
        reopened.library("bars_1d").read("600519.SSE").data, frame, check_freq=False
    )


def test_a_bad_uri_gives_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open the ArcticDB store nosuch://x"):
        Store("nosuch://x").open()
    with pytest.raises(StoreError, match="not open yet"):
        Store(store_uri("", tmp_path)).library("bars_1d")
