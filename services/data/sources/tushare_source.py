"""Tushare Pro: A-share and ETF daily bars, adjustment factors, the trade calendar, names.

Tushare's HTTP API is one POST per call to ``http://api.tushare.pro`` with a JSON body
``{"api_name", "token", "params", "fields"}``; it answers ``{"code", "msg", "data":
{"fields": [...], "items": [[...], ...]}}``, newest rows first. ``code`` is 0 on
success; otherwise ``msg`` says why (a bad token, a missing permission, the per-minute
limit). Volumes come in lots (手) and amounts in thousands of CNY: bars here are in
shares and CNY. The token is the secret named ``tushare`` (``quantdesk secrets set
tushare``), never a config value. The calls go through :class:`Fetcher` (timeout,
retries with backoff, rate limit); a bad token or a missing permission is not retried.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pandas as pd

from services.data.actions import Actions, from_tushare
from services.data.adjust import Factors, factors_from_frame
from services.data.bars import normalize
from services.data.fetch import EmptyResponse, Fetcher, NotRetryable
from services.data.symbols import kind_of, split_symbol

URL = "http://api.tushare.pro"
SECRET = "tushare"
TOKEN_CODES = (-2001, 40101)  # the token is missing, wrong or expired
PERMISSION_CODES = (40203,)  # no permission (or points) for the API, or the rate limit


class TushareError(RuntimeError):
    """Tushare answered, and said no (``code`` != 0)."""


class TushareSource:
    """History from Tushare Pro over its HTTP API."""

    name = "tushare"

    def __init__(self, fetcher: Fetcher, token: str, url: str = URL) -> None:
        import requests

        self.fetcher = fetcher
        self._token = token
        self.url = url
        self._session = requests.Session()

    def __repr__(self) -> str:  # never the token
        return f"TushareSource({self.url})"

    # -- the wire ------------------------------------------------------------------------
    def query(self, api: str, **params: str) -> pd.DataFrame:
        """One API call → a frame of its fields and items (raises on any refusal)."""
        body: dict[str, Any] = {
            "api_name": api,
            "token": self._token,
            "params": params,
            "fields": "",
        }
        response = self._session.post(self.url, json=body, timeout=self.fetcher.config.timeout_s)
        if response.status_code != 200:
            raise TushareError(f"HTTP {response.status_code} from Tushare ({api})")
        try:
            doc: Any = response.json()
        except json.JSONDecodeError:
            raise ValueError(
                f"Tushare answered {api} with something that is not JSON (an HTML page?)"
            ) from None
        if not isinstance(doc, dict) or "code" not in doc:
            raise ValueError(f"unexpected answer from Tushare ({api}): {str(doc)[:80]}")
        code, msg = doc.get("code"), str(doc.get("msg") or "")
        if code in TOKEN_CODES:
            raise NotRetryable(
                f"Tushare refused the token ({msg or code}): set a valid one with "
                "`quantdesk secrets set tushare`"
            )
        if code in PERMISSION_CODES and "每分钟" not in msg:
            raise NotRetryable(f"Tushare refused {api}: {msg} (your account's permissions)")
        if code != 0:
            raise TushareError(f"Tushare refused {api}: {msg or code}")
        data = doc.get("data") or {}
        fields, items = data.get("fields"), data.get("items")
        if not isinstance(fields, list) or not isinstance(items, list):
            raise ValueError(f"Tushare's answer to {api} has no fields/items")
        if not items:
            raise EmptyResponse(f"Tushare returned no rows for {api}")
        return pd.DataFrame(items, columns=fields)

    # -- Source ------------------------------------------------------------------------------
    def bars(self, vt_symbol: str, freq: str, start: date, end: date) -> pd.DataFrame:
        if freq != "1d":
            raise ValueError(
                "minute bars from Tushare need its separate stk_mins permission and are not "
                'supported: use [data] source = "akshare" for 1m'
            )
        kind = kind_of(vt_symbol)
        api = {"stock": "daily", "etf": "fund_daily", "index": "index_daily"}.get(kind)
        if api is None:
            raise ValueError(f"Tushare daily bars cover A-shares, ETFs and indexes, not {kind}")
        ts_code = ts_code_of(vt_symbol)
        what = f"{vt_symbol} 1d {start}..{end}"

        def fetch() -> pd.DataFrame:
            raw = self.query(
                api, ts_code=ts_code, start_date=f"{start:%Y%m%d}", end_date=f"{end:%Y%m%d}"
            )
            return _canonical(raw)

        return self.fetcher.call(what, fetch)

    def factors(self, vt_symbol: str) -> Factors:
        if kind_of(vt_symbol) != "stock":
            return []

        def fetch() -> Factors:
            raw = self.query("adj_factor", ts_code=ts_code_of(vt_symbol))
            frame = pd.DataFrame(
                {
                    "date": pd.to_datetime(raw["trade_date"], format="%Y%m%d", errors="coerce"),
                    "hfq_factor": raw["adj_factor"],
                }
            )
            return factors_from_frame(frame, "hfq_factor")

        return self.fetcher.call(f"{vt_symbol} adjustment factors", fetch)

    def actions(self, vt_symbol: str) -> Actions:
        if kind_of(vt_symbol) != "stock":
            return []

        def fetch() -> Actions:
            return from_tushare(self.query("dividend", ts_code=ts_code_of(vt_symbol)))

        return self.fetcher.call(f"{vt_symbol} dividends", fetch)

    def calendar(self) -> list[date]:
        def fetch() -> list[date]:
            raw = self.query("trade_cal", exchange="SSE", start_date="19900101")
            open_days = raw[pd.to_numeric(raw["is_open"], errors="coerce") == 1]
            days = pd.to_datetime(open_days["cal_date"], format="%Y%m%d", errors="coerce")
            return sorted(d.date() for d in days if pd.notna(d))

        return self.fetcher.call("trading calendar", fetch)

    def names(self) -> dict[str, str]:
        def fetch() -> dict[str, str]:
            raw = self.query("stock_basic", list_status="L")
            return dict(zip(raw["symbol"].astype(str), raw["name"].astype(str), strict=True))

        return self.fetcher.call("A-share names", fetch)


def ts_code_of(vt_symbol: str) -> str:
    """``600519.SSE`` → ``600519.SH``; ``000001.SZSE`` → ``000001.SZ``; ``000300.INDEX`` →
    ``000300.SH`` (CSI/SSE indexes; 399xxx are Shenzhen's)."""
    code, exchange = split_symbol(vt_symbol)
    if exchange == "INDEX":
        return f"{code}.SZ" if code.startswith("399") else f"{code}.SH"
    return f"{code}.{'SH' if exchange == 'SSE' else 'SZ'}"


def _canonical(raw: pd.DataFrame) -> pd.DataFrame:
    missing = {"trade_date", "open", "high", "low", "close", "vol"} - set(raw.columns)
    if missing:
        raise ValueError(f"unexpected columns from Tushare: missing {sorted(missing)}")
    out = pd.DataFrame(
        {
            "open": pd.to_numeric(raw["open"], errors="coerce"),
            "high": pd.to_numeric(raw["high"], errors="coerce"),
            "low": pd.to_numeric(raw["low"], errors="coerce"),
            "close": pd.to_numeric(raw["close"], errors="coerce"),
            "volume": pd.to_numeric(raw["vol"], errors="coerce") * 100,  # lots → shares
            "amount": pd.to_numeric(raw.get("amount"), errors="coerce") * 1000,  # 千元 → CNY
        }
    )
    out.index = pd.DatetimeIndex(
        pd.to_datetime(raw["trade_date"], format="%Y%m%d", errors="coerce")
    )
    return normalize(out.sort_index())
