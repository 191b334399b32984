"""Data sources behind one small interface; one module per source."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from services.data.sources.base import Kind, Source, SourceError, kind_of

if TYPE_CHECKING:
    from services.data.fetch import FetchConfig

__all__ = ["Kind", "Source", "SourceError", "kind_of", "make_source"]


def make_source(name: str, fetch: FetchConfig, demo_end: date) -> Source:
    """The source named in config: ``akshare`` (network) or ``demo`` (offline, synthetic)."""
    if name == "demo":
        from services.data.sources.demo import DemoSource

        return DemoSource(demo_end)
    if name == "yfinance":
        from services.data.fetch import Fetcher
        from services.data.sources.yfinance_source import YFinanceSource

        return YFinanceSource(Fetcher(fetch))
    if name == "akshare":
        from services.data.fetch import Fetcher
        from services.data.sources.akshare_source import AkShareSource

        return AkShareSource(Fetcher(fetch))
    raise ValueError(f"unknown data source {name!r}: expected akshare, yfinance or demo")
