"""The Tushare source against a local stand-in of its HTTP API, in Tushare's exact JSON:
units converted, newest-first rows sorted, and every refusal a clear error (a bad token
is not retried; the per-minute limit is)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from services.data.actions import Action
from services.data.fetch import FetchConfig, Fetcher
from services.data.sources import SourceError
from services.data.sources.tushare_source import TushareSource, ts_code_of
from services.data.sync import DataConfig, Syncer
from services.store import Store, StoreError
from tests.unit.data.tushare_server import TushareServer

TOKEN = "ts-local-test-token"


@pytest.fixture
def server() -> Iterator[TushareServer]:
    with TushareServer(TOKEN) as s:
        yield s


def source(server: TushareServer, token: str = TOKEN) -> TushareSource:
    fetch = FetchConfig(attempts=3, backoff_s=0.01, timeout_s=5, min_interval_s=0)
    return TushareSource(Fetcher(fetch, sleep=lambda s: None), token, server.url)


def test_daily_bars_in_shares_and_cny_oldest_first(server: TushareServer) -> None:
    bars = source(server).bars("600519.SSE", "1d", date(2024, 1, 2), date(2024, 1, 5))
    assert [d.date() for d in bars.index] == [date(2024, 1, d) for d in (2, 3, 4, 5)]
    first = bars.iloc[0]
    assert (first["open"], first["close"]) == (1728.0, 1710.0)
    assert first["volume"] == pytest.approx(3_215_636)  # 32156.36 lots
    assert first["amount"] == pytest.approx(5_510_023_119)  # 5510023.119 thousand CNY
    call = server.calls[0]
    assert call["api_name"] == "daily" and call["params"]["ts_code"] == "600519.SH"
    assert (call["params"]["start_date"], call["params"]["end_date"]) == ("20240102", "20240105")


def test_factors_calendar_and_names(server: TushareServer) -> None:
    src = source(server)
    assert src.factors("600519.SSE") == [(date(2023, 6, 26), 8.2315), (date(2023, 6, 27), 8.4167)]
    assert src.calendar() == [date(2023, 12, 29), *(date(2024, 1, d) for d in (2, 3, 4, 5))]
    assert src.names() == {"600519": "贵州茅台"}
    assert [ts_code_of(s) for s in ("000001.SZSE", "000300.INDEX", "399006.INDEX")] == [
        "000001.SZ",
        "000300.SH",
        "399006.SZ",
    ]


def test_a_bad_token_is_one_request_and_says_what_to_do(server: TushareServer) -> None:
    with pytest.raises(SourceError) as info:
        source(server, token="wrong").bars("600519.SSE", "1d", date(2024, 1, 2), date(2024, 1, 5))
    assert len(server.calls) == 1  # not retried
    assert "您的token不对" in str(info.value) and "quantdesk secrets set tushare" in str(info.value)
    assert "wrong" not in str(info.value)  # the token never appears in a message


def test_the_rate_limit_is_retried(server: TushareServer) -> None:
    server.script.append(("limit",))
    bars = source(server).bars("600519.SSE", "1d", date(2024, 1, 2), date(2024, 1, 5))
    assert len(bars) == 4 and len(server.calls) == 2


@pytest.mark.parametrize(("action", "words"), [("html", "HTTP 502"), ("empty", "no rows")])
def test_an_error_page_or_no_rows_is_a_clear_source_error(
    server: TushareServer, action: str, words: str
) -> None:
    server.script.extend([(action,)] * 3)
    with pytest.raises(SourceError) as info:
        source(server).bars("600519.SSE", "1d", date(2024, 1, 2), date(2024, 1, 5))
    assert words in str(info.value) and "after 3 attempts" in str(info.value)


def test_minute_bars_are_refused_with_the_reason(server: TushareServer) -> None:
    with pytest.raises(ValueError, match="stk_mins"):
        source(server).bars("600519.SSE", "1m", date(2024, 1, 2), date(2024, 1, 5))


def test_dividends_and_bonus_shares_per_share(server: TushareServer) -> None:
    assert source(server).actions("600519.SSE") == [
        Action(date(2011, 7, 1), 2.3, 1.1),  # 10送1派23 (before tax)
        Action(date(2023, 12, 20), 21.91, 1.0),
    ]
    assert server.calls[-1]["api_name"] == "dividend"
    assert server.calls[-1]["params"] == {"ts_code": "600519.SH"}


def test_a_token_without_dividend_rights_still_syncs_the_bars(
    server: TushareServer, tmp_path: Path
) -> None:
    server.refused.add("dividend")  # Tushare's dividend API needs 2,000 points
    store = Store.of(tmp_path)
    store.open()
    summary = Syncer(store, source(server), DataConfig()).sync(
        ["600519.SSE"], "1d", start=date(2024, 1, 2), end=date(2024, 1, 5)
    )
    assert summary.exit_code == 0 and summary.stored == 4
    said = "\n".join(summary.lines())
    assert "dividends not fetched for 1 symbols (600519.SSE: " in said
    assert "point-in-time backtests of them are refused" in said
    with pytest.raises(StoreError, match="no dividend or bonus-share records"):
        store.read_pit("600519.SSE", "1d")
