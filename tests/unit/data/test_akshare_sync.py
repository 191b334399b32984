"""The AkShare source and sync, offline: fakes in AkShare's exact format replace
``akshare.<function>`` at its import point; network faults end in retries and then
a clear per-symbol failure, with nothing half written."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import akshare
import pandas as pd
import pytest
import requests

from services.data.actions import Action
from services.data.fetch import FetchConfig, Fetcher
from services.data.sources.akshare_source import AkShareSource
from services.data.sources.demo import DemoSource
from services.data.sync import EXIT_FAILED, EXIT_OK, DataConfig, Syncer
from services.store import Store

FAST = FetchConfig(attempts=3, backoff_s=0.0, timeout_s=0.5, min_interval_s=0.0)
DAYS = pd.bdate_range("2026-11-02", "2026-11-20")


def hist_frame(code: str, start: str, end: str) -> pd.DataFrame:
    """``stock_zh_a_hist``'s output: 日期 as date objects, numbers, 成交量 in lots."""
    days = [d for d in DAYS if pd.Timestamp(start) <= d <= pd.Timestamp(end)]
    closes = [10.0 + 0.1 * i for i in range(len(days))]
    return pd.DataFrame(
        {
            "日期": [d.date() for d in days],
            "股票代码": code,
            "开盘": closes,
            "收盘": closes,
            "最高": [c + 0.05 for c in closes],
            "最低": [c - 0.05 for c in closes],
            "成交量": [1000 + i for i in range(len(days))],
            "成交额": [c * 100_000 for c in closes],
            "振幅": 1.0,
            "涨跌幅": 1.0,
            "涨跌额": 0.1,
            "换手率": 0.5,
        }
    )


def dividend_frame() -> pd.DataFrame:
    """``stock_history_dividend_detail(indicator="分红")``'s output (Sina's table, per 10
    shares): 公告日期 as dates, numbers, 进度 实施/预案/不分配, ex-dates as Timestamps."""
    return pd.DataFrame(
        {
            "公告日期": [date(2024, 4, 3), date(2023, 11, 14), date(2012, 4, 1), date(2011, 4, 13)],
            "送股": [0.0, 0.0, 0.0, 1.0],
            "转增": [0.0, 0.0, 0.0, 0.0],
            "派息": [308.76, 219.10, 0.0, 23.0],
            "进度": ["预案", "实施", "不分配", "实施"],
            "除权除息日": pd.to_datetime([None, "2023-12-20", None, "2011-07-01"]),
            "股权登记日": pd.to_datetime([None, "2023-12-19", None, "2011-06-30"]),
            "红股上市日": pd.to_datetime([None, None, None, "2011-07-04"]),
        }
    )


class FakeAkShare:
    """Counts calls; ``faults[code]`` makes that code fail in a given way."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.faults: dict[str, str] = {}

    def stock_zh_a_hist(
        self,
        symbol: str,
        period: str,
        start_date: str,
        end_date: str,
        adjust: str = "",
        timeout: float | None = None,
    ) -> pd.DataFrame:
        self.calls[symbol] = self.calls.get(symbol, 0) + 1
        fault = self.faults.get(symbol)
        if fault == "timeout":
            time.sleep(2)
        if fault == "empty":
            return pd.DataFrame()
        if fault == "html":  # what requests' r.json() raises on an HTML error page
            raise json.JSONDecodeError("Expecting value", "<html><body>502</body></html>", 0)
        if fault == "5xx":
            raise requests.exceptions.HTTPError("502 Server Error: Bad Gateway for url")
        return hist_frame(symbol, start_date, end_date)

    def stock_zh_a_daily(self, symbol: str, adjust: str = "", **_: Any) -> pd.DataFrame:
        return pd.DataFrame(
            {"date": pd.to_datetime(["1990-12-19", "2026-11-10"]), "hfq_factor": ["1.0", "1.05"]}
        )

    def stock_history_dividend_detail(self, symbol: str, indicator: str) -> pd.DataFrame:
        return dividend_frame() if symbol == "600519" else pd.DataFrame()  # 暂时没有数据

    def tool_trade_date_hist_sina(self) -> pd.DataFrame:
        return pd.DataFrame({"trade_date": [d.date() for d in DAYS]})

    def stock_info_a_code_name(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"code": ["600519", "000001", "600036"], "name": ["贵州茅台", "平安银行", "招商银行"]}
        )


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAkShare]:
    f = FakeAkShare()
    for name in (
        "stock_zh_a_hist",
        "stock_zh_a_daily",
        "tool_trade_date_hist_sina",
        "stock_info_a_code_name",
        "stock_history_dividend_detail",
    ):
        monkeypatch.setattr(akshare, name, getattr(f, name))
    yield f


def syncer(store: Store) -> Syncer:
    return Syncer(store, AkShareSource(Fetcher(FAST)), DataConfig(history_start="2026-11-02"))


SYMBOLS = ["600519.SSE", "000001.SZSE", "600036.SSE"]


def test_sync_converts_lots_to_shares_and_stores_factors_and_names(
    fake: FakeAkShare, store: Store
) -> None:
    summary = syncer(store).sync(SYMBOLS, "1d", end=date(2026, 11, 20))
    assert summary.exit_code == EXIT_OK and summary.stored == 3 * len(DAYS)
    bars = store.read_bars("600519.SSE", "1d")
    assert bars["volume"].iloc[0] == 100_000.0  # 1,000 lots
    meta = store.meta("600519.SSE", "1d")
    assert meta is not None and meta.name == "贵州茅台" and meta.factors[-1] == ["2026-11-10", 1.05]
    assert store.calendar()[0] == DAYS[0].date()
    assert summary.snapshot.startswith("sync-akshare-")


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("timeout", "timed out after 0.5 s"),
        ("empty", "the source returned no rows"),
        ("html", "not data (an HTML error page?)"),
        ("5xx", "HTTPError: 502 Server Error"),
    ],
)
def test_network_faults_retry_then_fail_that_symbol_only(
    fake: FakeAkShare, store: Store, fault: str, reason: str
) -> None:
    fake.faults["000001"] = fault
    summary = syncer(store).sync(SYMBOLS, "1d", end=date(2026, 11, 20))
    assert fake.calls["000001"] == FAST.attempts  # retried
    [failed] = summary.failed
    assert failed.vt_symbol == "000001.SZSE"
    assert reason in failed.error and "after 3 attempts" in failed.error
    assert store.meta("000001.SZSE", "1d") is None  # nothing half written
    assert store.meta("600519.SSE", "1d").rows == len(DAYS)  # type: ignore[union-attr]
    assert summary.exit_code == EXIT_FAILED
    assert any(line.startswith("FAILED 000001.SZSE") for line in summary.lines())


def test_incremental_sync_twice_writes_nothing_new_the_second_time(
    fake: FakeAkShare, store: Store
) -> None:
    s = syncer(store)
    s.sync(SYMBOLS, "1d", end=date(2026, 11, 13))
    calls = dict(fake.calls)
    s.sync(SYMBOLS, "1d", end=date(2026, 11, 20))  # fetches only the new week
    assert store.meta("600519.SSE", "1d").rows == len(DAYS)  # type: ignore[union-attr]
    again = s.sync(SYMBOLS, "1d", end=date(2026, 11, 20))
    assert again.stored == 0 and all(o.skipped == "up to date" for o in again.outcomes)
    assert fake.calls["600519"] == calls["600519"] + 1  # not asked a third time
    assert again.snapshot == ""  # nothing new: no snapshot


def test_an_interrupted_sync_resumes_without_duplicates(store: Store) -> None:
    class Interrupting(DemoSource):
        fail_on = "600036.SSE"

        def bars(self, vt_symbol: str, freq: str, start: date, end: date) -> pd.DataFrame:
            if vt_symbol == self.fail_on:
                raise KeyboardInterrupt  # the user pressed ctrl+c mid-sync
            return super().bars(vt_symbol, freq, start, end)

    universe = ["600519.SSE", "000858.SZSE", "600036.SSE", "000001.SZSE"]
    end = date(2026, 11, 20)
    source = Interrupting(date(2026, 11, 23))
    with pytest.raises(KeyboardInterrupt):
        Syncer(store, source, DataConfig()).sync(universe, "1d", end=end)
    assert store.meta("600519.SSE", "1d") is not None and store.meta("600036.SSE", "1d") is None
    source.fail_on = ""
    resumed = Syncer(store, source, DataConfig()).sync(universe, "1d", end=end)
    assert resumed.exit_code == EXIT_OK
    for symbol in universe:
        bars = store.read_bars(symbol, "1d")
        assert bars.index.is_unique and len(bars) == 2644


def test_minute_bars_in_akshare_format(monkeypatch: pytest.MonkeyPatch, store: Store) -> None:
    def minute(
        symbol: str, start_date: str, end_date: str, period: str, adjust: str
    ) -> pd.DataFrame:
        # ``stock_zh_a_hist_min_em(period="1")``: 时间 as text, 成交量 in lots, 均价
        return pd.DataFrame(
            {
                "时间": ["2026-11-20 09:31:00", "2026-11-20 09:32:00"],
                "开盘": [10.0, 10.01],
                "收盘": [10.01, 10.02],
                "最高": [10.02, 10.03],
                "最低": [9.99, 10.0],
                "成交量": [12, 30],
                "成交额": [12012.0, 30060.0],
                "均价": [10.01, 10.02],
            }
        )

    monkeypatch.setattr(akshare, "stock_zh_a_hist_min_em", minute)
    monkeypatch.setattr(
        akshare, "tool_trade_date_hist_sina", FakeAkShare().tool_trade_date_hist_sina
    )
    monkeypatch.setattr(akshare, "stock_info_a_code_name", FakeAkShare().stock_info_a_code_name)
    summary = syncer(store).sync(["600519.SSE"], "1m", end=date(2026, 11, 20))
    assert summary.exit_code == EXIT_OK
    bars = store.read_bars("600519.SSE", "1m")
    assert list(bars.index.strftime("%H:%M")) == ["09:31", "09:32"]
    assert bars["volume"].tolist() == [1200.0, 3000.0]


def _cn_daily(**_: Any) -> pd.DataFrame:
    """``fund_etf_hist_em`` / ``index_zh_a_hist``: 日期 as text, 成交量 in lots."""
    return pd.DataFrame(
        {
            "日期": ["2026-11-19", "2026-11-20"],
            "开盘": [4.5, 4.6],
            "收盘": [4.6, 4.61],
            "最高": [4.62, 4.65],
            "最低": [4.48, 4.58],
            "成交量": [1000, 2000],
            "成交额": [460000.0, 922000.0],
            "振幅": 1.0,
            "涨跌幅": 0.5,
            "涨跌额": 0.02,
            "换手率": 0.1,
        }
    )


def _sina_daily(**_: Any) -> pd.DataFrame:
    """``stock_hk_daily`` / ``stock_us_daily``: the whole history, date objects, shares."""
    days = [date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20)]
    return pd.DataFrame(
        {
            "date": days,
            "open": [300.0, 301.0, 302.0],
            "high": [305.0, 306.0, 307.0],
            "low": [299.0, 300.0, 301.0],
            "close": [301.0, 302.0, 303.0],
            "volume": [1e6, 2e6, 3e6],
        }
    )


@pytest.mark.parametrize(
    ("symbol", "function", "fake", "volume"),
    [
        ("510300.SSE", "fund_etf_hist_em", _cn_daily, [100_000.0, 200_000.0]),
        ("000300.INDEX", "index_zh_a_hist", _cn_daily, [100_000.0, 200_000.0]),
        ("00700.HK", "stock_hk_daily", _sina_daily, [2e6, 3e6]),
        ("AAPL.US", "stock_us_daily", _sina_daily, [2e6, 3e6]),
    ],
)
def test_etf_index_hk_and_us_daily_bars(
    monkeypatch: pytest.MonkeyPatch, symbol: str, function: str, fake: Any, volume: list[float]
) -> None:
    calls: list[dict[str, Any]] = []

    def recorder(**kwargs: Any) -> pd.DataFrame:
        calls.append(kwargs)
        return fake(**kwargs)

    monkeypatch.setattr(akshare, function, recorder)
    source = AkShareSource(Fetcher(FAST))
    bars = source.bars(symbol, "1d", date(2026, 11, 19), date(2026, 11, 20))
    assert len(calls) == 1
    assert list(bars.index.date) == [date(2026, 11, 19), date(2026, 11, 20)]  # range applied
    assert bars["volume"].tolist() == volume
    assert source.factors(symbol) == []  # factors are fetched for A-share stocks only


def test_a_dead_network_stops_the_sync_after_three_symbols(
    fake: FakeAkShare, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(**_: Any) -> pd.DataFrame:
        raise requests.exceptions.ConnectionError(
            "HTTPSConnectionPool(host='push2his.eastmoney.com', port=443): Max retries exceeded "
            "(Caused by NameResolutionError(\"Failed to resolve 'push2his.eastmoney.com'\"))"
        )

    monkeypatch.setattr(akshare, "stock_zh_a_hist", offline)
    symbols = ["600519.SSE", "000001.SZSE", "600036.SSE", "601318.SSE", "000858.SZSE"]
    summary = syncer(store).sync(symbols, "1d", end=date(2026, 11, 20))
    assert summary.exit_code == EXIT_FAILED and len(summary.failed) == 5
    first = summary.failed[0]
    assert first.error.startswith("cannot connect to push2his.eastmoney.com (name not resolved)")
    assert summary.failed[3].error == "not attempted: the network is down"
    lines = summary.lines()
    assert "FAILED 2 symbols not attempted (network down): 601318.SSE, 000858.SZSE" in lines
    assert any(line.startswith("stopped after 3 symbols in a row") for line in lines)


def test_offline_with_everything_stored_is_a_failure_not_zero_failed(
    fake: FakeAkShare, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stored calendar ends at the last sync; offline, nothing can be fetched and the
    calendar cannot be refreshed: that is a failed sync, whatever was stored before."""
    assert syncer(store).sync(SYMBOLS, "1d", end=date(2026, 11, 20)).exit_code == EXIT_OK

    def offline(**_: Any) -> pd.DataFrame:
        raise requests.exceptions.ConnectionError(
            "HTTPSConnectionPool(host='finance.sina.com.cn', port=443): Max retries exceeded "
            "(Caused by NameResolutionError(\"Failed to resolve 'finance.sina.com.cn'\"))"
        )

    monkeypatch.setattr(akshare, "tool_trade_date_hist_sina", offline)
    monkeypatch.setattr(akshare, "stock_zh_a_hist", offline)
    summary = syncer(store).sync(SYMBOLS, "1d", end=date(2026, 11, 27))  # a week later
    assert summary.exit_code == EXIT_FAILED
    lines = summary.lines()
    assert any(
        line.startswith("FAILED trading calendar not refreshed from akshare") for line in lines
    ), lines
    assert len(summary.failed) == 3  # each symbol was tried (the calendar could not skip it)


def test_real_bars_are_not_synced_onto_demo_history(fake: FakeAkShare, store: Store) -> None:
    demo = Syncer(store, DemoSource(date(2026, 11, 13)), DataConfig(history_start="2026-11-02"))
    assert demo.sync(["600519.SSE"], "1d", end=date(2026, 11, 13)).stored > 0
    before = store.read_bars("600519.SSE", "1d")
    summary = syncer(store).sync(["600519.SSE"], "1d", end=date(2026, 11, 20))
    assert summary.exit_code == EXIT_FAILED
    (failed,) = summary.failed
    assert "holds synthetic demo bars for 600519.SSE" in failed.error
    assert "quantdesk data delete 600519.SSE --freq 1d" in failed.error
    pd.testing.assert_frame_equal(store.read_bars("600519.SSE", "1d"), before)
    assert store.delete("600519.SSE", "1d")
    assert syncer(store).sync(["600519.SSE"], "1d", end=date(2026, 11, 20)).exit_code == EXIT_OK


def test_dividends_and_bonus_shares_from_sinas_table(fake: FakeAkShare, store: Store) -> None:
    source = AkShareSource(Fetcher(FAST))
    # implemented rows only, per share: 10派219.10 and 10送1派23
    assert source.actions("600519.SSE") == [
        Action(date(2011, 7, 1), 2.3, 1.1),
        Action(date(2023, 12, 20), 21.91, 1.0),
    ]
    assert source.actions("600036.SSE") == []  # the page has no rows yet
    assert source.actions("510300.SSE") == []  # not fetched for ETFs (as factors)
