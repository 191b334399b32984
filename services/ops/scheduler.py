"""Scheduled jobs (APScheduler), declared in config.toml, reported on the bus.

The daily sync runs after the close (``[jobs] daily_sync``, a crontab in
``timezone``; default 15:30 Asia/Shanghai, Monday to Friday) and only on
trading days of the stored exchange calendar. Missed runs: the time of each
job's last run is kept in the journal; at start, if the most recent
scheduled time passed while quantdesk was not running (the machine was off),
the job runs once, right away ("caught up"); several missed runs are
coalesced into that one. On the very first start nothing counts as missed.
A job never runs twice at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from services.bus import Bus
from services.events import EVENT_JOB, JobStatus, JobUpdated
from services.ops.redact import redact
from services.records.journal import Journal
from services.settings import ConfigValueError

log = logging.getLogger("quantdesk.jobs")


@dataclass(frozen=True)
class JobsConfig:
    """Scheduled jobs ([jobs] in config.toml)."""

    daily_sync: str = "30 15 * * mon-fri"
    """Crontab (minute hour day month weekday) of the daily data sync; empty disables it."""
    backup: str = "0 18 * * mon-fri"
    """Crontab of the nightly backup, after the sync ([backup] says where and how many);
    empty disables it."""
    daily_summary: str = "5 15 * * mon-fri"
    """Crontab of the daily summary after the close (P&L, trades, exposure, rule hits),
    sent to the alert channels and written to the log; empty disables it."""
    timezone: str = "Asia/Shanghai"
    """Time zone of the crontab."""
    catch_up: bool = True
    """Run a job once at start if its last scheduled time passed while quantdesk was off."""

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except Exception:
            raise ConfigValueError("timezone", f"unknown time zone {self.timezone!r}") from None
        for name, crontab in (
            ("daily_sync", self.daily_sync),
            ("backup", self.backup),
            ("daily_summary", self.daily_summary),
        ):
            if not crontab:
                continue
            try:
                CronTrigger.from_crontab(crontab, timezone=ZoneInfo(self.timezone))
            except ValueError as exc:
                raise ConfigValueError(
                    name, f"not a crontab ({exc}); e.g. '30 15 * * mon-fri'"
                ) from None


JobResult = tuple[JobStatus, str]  # (ok|warning|failed|skipped, detail)
JobBody = Callable[[Callable[[int, int, str], None]], JobResult]


@dataclass
class JobState:
    name: str
    schedule: str
    next_run: datetime | None = None
    last_run: datetime | None = None
    last_seconds: float = 0.0
    last_state: str = ""
    last_detail: str = ""
    running: bool = False
    progress: str = ""


@dataclass
class _Job:
    state: JobState
    body: JobBody
    trigger: CronTrigger
    lock: threading.Lock = field(default_factory=threading.Lock)


class Scheduler:
    """APScheduler in a background thread; job outcomes go to the bus and the journal."""

    def __init__(self, bus: Bus, journal: Journal, config: JobsConfig) -> None:
        self.bus = bus
        self.journal = journal
        self.config = config
        self.tz = ZoneInfo(config.timezone)
        self._scheduler = BackgroundScheduler(timezone=self.tz)
        self._jobs: dict[str, _Job] = {}
        self.trading_day: Callable[[date], bool] = lambda d: d.weekday() < 5

    def add(self, name: str, crontab: str, body: JobBody) -> None:
        trigger = CronTrigger.from_crontab(crontab, timezone=self.tz)
        state = JobState(name, f"{crontab} ({self.config.timezone})")
        saved = self.journal.get_state(f"job:{name}")  # written by a run, and only by one
        if saved:
            state.last_run = datetime.fromisoformat(saved)
        elif not self.journal.get_state(f"job-since:{name}"):
            # first start: nothing was missed before quantdesk existed here (a baseline for
            # catching up, not a run: the jobs pane shows no "last" until one happens)
            self.journal.set_state(f"job-since:{name}", datetime.now(self.tz).isoformat())
        self._jobs[name] = _Job(state, body, trigger)

    def start(self) -> None:
        for name, job in self._jobs.items():
            self._scheduler.add_job(
                self._run,
                job.trigger,
                args=[name, False],
                id=name,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=3600,
            )
        self._scheduler.start()
        if self.config.catch_up:
            for name, job in self._jobs.items():
                missed = self.missed_run(job, datetime.now(self.tz))
                if missed is not None:
                    log.warning(
                        "job %s missed its run at %s: catching up now",
                        name,
                        f"{missed:%Y-%m-%d %H:%M}",
                    )
                    self.run_now(name)

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def states(self) -> list[JobState]:
        for name, job in self._jobs.items():
            scheduled = self._scheduler.get_job(name) if self._scheduler.running else None
            job.state.next_run = scheduled.next_run_time if scheduled is not None else None
        return [job.state for job in self._jobs.values()]

    def run_now(self, name: str) -> bool:
        """Start ``name`` in the background now; False if unknown or already running."""
        job = self._jobs.get(name)
        if job is None or job.state.running:
            return False
        threading.Thread(
            target=self._run, args=[name, True], name=f"job-{name}", daemon=True
        ).start()
        return True

    def missed_run(self, job: _Job, now: datetime) -> datetime | None:
        """The most recent scheduled time before ``now`` if the job has not run since."""
        last_fire = self._previous_fire(job.trigger, now)
        if last_fire is None:
            return None
        baseline = job.state.last_run
        if baseline is None:
            saved = self.journal.get_state(f"job-since:{job.state.name}")
            baseline = datetime.fromisoformat(saved) if saved else now
        if baseline.astimezone(self.tz) >= last_fire:
            return None
        return last_fire

    @staticmethod
    def _previous_fire(trigger: CronTrigger, now: datetime) -> datetime | None:
        probe = now - timedelta(days=8)
        last: datetime | None = None
        fire: Any = trigger.get_next_fire_time(None, probe)
        while fire is not None and fire <= now:
            last = fire
            fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
        return last

    # -- running -----------------------------------------------------------------------
    def _run(self, name: str, manual: bool) -> None:
        job = self._jobs[name]
        if not job.lock.acquire(blocking=False):
            return  # already running
        state = job.state
        started = datetime.now(self.tz)
        t0 = time.monotonic()
        state.running = True
        try:
            if not manual and not self.trading_day(started.date()):
                result: JobResult = ("skipped", f"{started:%Y-%m-%d} is not a trading day")
            else:
                self._publish(name, "running", "started", 0.0)

                def progress(done: int, total: int, detail: str) -> None:
                    state.progress = f"{done}/{total}" if total else f"{done}"  # total unknown
                    self._publish(
                        name, "running", redact(detail), time.monotonic() - t0, done, total
                    )

                result = job.body(progress)
        except Exception as exc:  # a crashed job is reported, never silent
            log.exception("job %s crashed", name)
            result = ("failed", f"crashed: {type(exc).__name__}: {exc}")
        finally:
            state.running = False
            state.progress = ""
            job.lock.release()
        seconds = time.monotonic() - t0
        result = (result[0], redact(result[1]))  # a source's refusal may echo its token
        # Journal first, then expose the state: whoever sees the result finds it recorded.
        self.journal.set_state(
            f"job:{name}",
            started.isoformat(),
            (
                "job",
                name,
                {
                    "state": result[0],
                    "detail": result[1],
                    "seconds": round(seconds, 3),
                    "manual": manual,
                },
            ),
        )
        state.last_run, state.last_seconds = started, seconds
        state.last_state, state.last_detail = result
        level = logging.WARNING if result[0] in ("failed", "warning") else logging.INFO
        log.log(level, "job %s %s in %.1f s: %s", name, result[0], seconds, result[1])
        self._publish(name, result[0], result[1], seconds)

    def _publish(
        self,
        name: str,
        state: JobStatus,
        detail: str,
        seconds: float,
        done: int = 0,
        total: int = 0,
    ) -> None:
        self.bus.publish(
            EVENT_JOB,
            JobUpdated(
                name,
                state,
                detail,
                datetime.now(self.tz),
                seconds,
                done,
                total,
            ),
        )
