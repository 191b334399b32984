"""Data sources behind one small interface; one module per source."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from services.data.sources.base import Source, SourceError
from services.data.symbols import Kind, kind_of

if TYPE_CHECKING:
    from services.data.fetch import FetchConfig

__all__ = ["Kind", "Source", "SourceError", "kind_of", "make_source"]


def make_source(
    name: str, fetch: FetchConfig, demo_end: date, tushare_url: str = "", prompt: bool = False
) -> Source:
    """The source named in config: ``akshare`` or ``tushare`` (network; Tushare's token
    from the keyring, asked for its passphrase only when ``prompt``), ``yfinance``, or
    ``demo`` (offline, synthetic)."""
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
    if name == "tushare":
        from services.data.fetch import Fetcher
        from services.data.sources.tushare_source import SECRET, URL, TushareSource
        from services.ops.secrets import Secrets, SecretsError, open_keyring

        try:
            token = Secrets(open_keyring(prompt)).get(SECRET)
        except SecretsError as exc:
            raise ValueError(f"Tushare's token is kept in the keyring: {exc}") from None
        if not token:
            raise ValueError(
                "no Tushare token: store it with `quantdesk secrets set tushare` (it is read "
                "from the keyring, never from a config file)"
            )
        return TushareSource(Fetcher(fetch), token, tushare_url or URL)
    raise ValueError(f"unknown data source {name!r}: expected akshare, tushare, yfinance or demo")
