"""Scheduled jobs: catch-up of missed runs, trading days only, crashes reported, one at a time."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from services.bus import Bus
from services.events import EVENT_JOB, JobUpdated
from services.ops.scheduler import JobResult, JobsConfig, Scheduler
from services.records.journal import Journal
from services.settings import ConfigValueError

TZ = ZoneInfo("Asia/Shanghai")


def updates(bus: Bus) -> list[JobUpdated]:
    seen: list[JobUpdated] = []
    bus.register(EVENT_JOB, lambda e: seen.append(e.data))
    return seen


def ok_job(progress: object) -> JobResult:
    return "ok", "done"


def test_a_run_missed_while_off_is_caught_up_once(bus: Bus, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    long_ago = datetime.now(TZ) - timedelta(days=10)
    journal.set_state("job:sync", long_ago.isoformat())  # last ran 10 days ago
    ran = threading.Event()

    def body(progress: object) -> JobResult:
        ran.set()
        return "ok", "caught up"

    scheduler = Scheduler(bus, journal, JobsConfig(daily_sync="0 3 * * *"))
    scheduler.add("sync", "0 3 * * *", body)
    scheduler.trading_day = lambda d: True
    scheduler.start()
    try:
        assert ran.wait(5), "the missed run was not caught up"
        for _ in range(250):
            if scheduler.states()[0].last_state:
                break
            threading.Event().wait(0.02)
    finally:
        scheduler.stop()
    [entry] = journal.entries("job")
    assert entry["payload"]["manual"] is True and entry["payload"]["state"] == "ok"


def test_nothing_counts_as_missed_on_the_very_first_start(bus: Bus, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    scheduler = Scheduler(bus, journal, JobsConfig())
    scheduler.add("sync", "0 3 * * *", ok_job)
    job = scheduler._jobs["sync"]
    assert scheduler.missed_run(job, datetime.now(TZ)) is None
    # ...but a day later, the 03:00 run in between was missed
    assert scheduler.missed_run(job, datetime.now(TZ) + timedelta(days=1, hours=1)) is not None


def test_scheduled_runs_skip_non_trading_days_and_report_it(bus: Bus, tmp_path: Path) -> None:
    seen = updates(bus)
    scheduler = Scheduler(bus, Journal(tmp_path / "j.sqlite3"), JobsConfig())
    scheduler.add("sync", "30 15 * * mon-fri", ok_job)
    scheduler.trading_day = lambda d: False
    scheduler._run("sync", manual=False)
    assert bus.wait_idle()
    assert seen[-1].state == "skipped" and "not a trading day" in seen[-1].detail
    scheduler._run("sync", manual=True)  # run now works on any day
    assert bus.wait_idle()
    assert [u.state for u in seen] == ["skipped", "running", "ok"]


def test_a_crashing_job_is_reported_failed_and_the_scheduler_goes_on(
    bus: Bus, tmp_path: Path
) -> None:
    seen = updates(bus)
    scheduler = Scheduler(bus, Journal(tmp_path / "j.sqlite3"), JobsConfig())

    def crash(progress: object) -> JobResult:
        raise ConnectionError("vendor down")

    scheduler.add("sync", "30 15 * * *", crash)
    scheduler._run("sync", manual=True)
    assert bus.wait_idle()
    assert seen[-1].state == "failed" and "ConnectionError: vendor down" in seen[-1].detail
    [state] = scheduler.states()
    assert state.last_state == "failed" and not state.running


def test_a_job_never_runs_twice_at_once(bus: Bus, tmp_path: Path) -> None:
    gate, started = threading.Event(), threading.Event()
    calls = []

    def slow(progress: object) -> JobResult:
        calls.append(1)
        started.set()
        gate.wait(5)
        return "ok", "slow"

    scheduler = Scheduler(bus, Journal(tmp_path / "j.sqlite3"), JobsConfig())
    scheduler.add("sync", "30 15 * * *", slow)
    assert scheduler.run_now("sync")
    assert started.wait(5)
    assert not scheduler.run_now("sync")  # still running
    scheduler._run("sync", manual=False)  # the cron firing meanwhile does nothing
    gate.set()
    for _ in range(100):
        if scheduler.states()[0].last_state:
            break
        threading.Event().wait(0.02)
    assert calls == [1]


def test_bad_job_config_names_the_key() -> None:
    with pytest.raises(ConfigValueError) as err:
        JobsConfig(daily_sync="every day")
    assert err.value.key == "daily_sync"
    with pytest.raises(ConfigValueError) as err:
        JobsConfig(timezone="Mars/Olympus")
    assert err.value.key == "timezone"


def test_progress_events_carry_counts(bus: Bus, tmp_path: Path) -> None:
    seen = updates(bus)
    scheduler = Scheduler(bus, Journal(tmp_path / "j.sqlite3"), JobsConfig())

    def body(progress):  # type: ignore[no-untyped-def]
        for n in range(1, 4):
            progress(n, 3, f"sym{n}")
        return "ok", "3 done"

    scheduler.add("sync", "30 15 * * *", body)
    scheduler._run("sync", manual=True)
    assert bus.wait_idle()
    assert [(u.done, u.total) for u in seen if u.detail.startswith("sym")] == [
        (1, 3),
        (2, 3),
        (3, 3),
    ]


def test_a_job_that_never_ran_shows_no_last_run_after_a_restart(bus: Bus, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    for _ in range(2):  # the first start, then a restart
        scheduler = Scheduler(bus, journal, JobsConfig(daily_sync="0 3 * * *"))
        scheduler.add("sync", "0 3 * * *", ok_job)
        (state,) = scheduler.states()
        assert state.last_run is None and state.last_state == ""
    assert journal.get_state("job:sync") is None and journal.get_state("job-since:sync")


def test_the_demo_schedules_a_daily_sync_that_succeeds(tmp_path: Path) -> None:
    """The demo's store is synthetic and real bars never mix into it: with [data] as
    shipped (source akshare) its daily sync came from AkShare and failed every weekday
    ("remove the demo bars first", or no network). The demo syncs from the demo source."""
    from services.accounting.costs import CostConfig
    from services.data.sync import DataConfig
    from services.runtime import AccountConfig, build_services
    from services.venues.simulator import SimConfig

    services = build_services(
        tmp_path,
        sim=SimConfig(),
        costs=CostConfig(),
        account=AccountConfig(),
        paced=False,
        data=DataConfig(),  # as shipped: akshare
        jobs=JobsConfig(backup="", daily_summary=""),
    )
    try:
        assert DataConfig().source == "akshare"
        prep = services.prepare_market()
        assert prep.seeded and not prep.error, prep
        state, detail = services.daily_sync(lambda n, total, what: None)
        assert state == "ok", detail
        assert "20 symbols" in detail
    finally:
        services.stop()
