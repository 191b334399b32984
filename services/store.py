"""The market-data store: ArcticDB, LMDB under the data directory by default.

Any ArcticDB URI (s3://, azure://, lmdb://) is accepted so that several
machines can share one store. arcticdb is imported here, lazily, because its
import costs ~0.5 s and start-up must stay fast: the console opens the store
in a worker thread after the first paint.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("quantdesk.store")

LIBRARIES = ("bars_1d", "bars_1m", "quarantine")


class StoreError(RuntimeError):
    """The store could not be opened; the message says which URI and why."""


@dataclass(frozen=True)
class StoreInfo:
    uri: str
    libraries: tuple[str, ...]


def store_uri(configured: str, data_dir: Path) -> str:
    """The configured URI, or the embedded default ``lmdb://<data_dir>/arctic``."""
    return configured or f"lmdb://{data_dir / 'arctic'}"


class Store:
    """An opened ArcticDB with quantdesk's libraries created."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._arctic: Any = None

    def open(self) -> StoreInfo:
        try:
            import arcticdb

            if self.uri.startswith("lmdb://"):
                Path(self.uri.removeprefix("lmdb://").split("?")[0]).mkdir(
                    parents=True, exist_ok=True
                )
            self._arctic = arcticdb.Arctic(self.uri)
            existing = set(self._arctic.list_libraries())
            for name in LIBRARIES:
                if name not in existing:
                    self._arctic.create_library(name)
        except Exception as exc:  # arcticdb raises many types; report one clear error
            raise StoreError(f"cannot open the ArcticDB store {self.uri}: {exc}") from exc
        # Not list_symbols(): on LMDB it waits ~1 s per library for a lock at open.
        info = StoreInfo(self.uri, tuple(sorted(self._arctic.list_libraries())))
        log.info("store ready: %s (libraries %s)", self.uri, ", ".join(info.libraries))
        return info

    def library(self, name: str) -> Any:
        if self._arctic is None:
            raise StoreError("the store is not open yet")
        return self._arctic[name]
