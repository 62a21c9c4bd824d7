"""APScheduler 3.x in the background of the desktop app and `secondme serve`.

Job definitions live in a persistent SQLAlchemyJobStore in the app's own database (table apscheduler_jobs,
created by APScheduler), so runs missed while the app was closed are caught up once (coalesce) at start-up.
One run of a job at a time (max_instances=1, plus the job_runs lock for other processes). A run that raises is
recorded by JobService and tried again after `jobs_retry_minutes`. shutdown() sets the stop flag that jobs check
between batches, then waits for the running job to reach that safe point.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from storage.errors import UserError
from storage.job_store import stored_next_runs

if TYPE_CHECKING:
    from assistant.jobs.service import JobService

log = logging.getLogger(__name__)

JOBSTORE_TABLE = "apscheduler_jobs"
IDLE_CHECK_ID = "consolidation-when-idle"

# The service the scheduled callables reach; persistent jobs store a function reference, not an object.
_active: JobService | None = None
_active_lock = threading.Lock()


def run_scheduled(name: str) -> None:
    """Entry point of every persistent job (referenced by name in the job store)."""
    service = _active
    if service is None:
        log.warning("scheduled %s run skipped: no job service is active", name)
        return
    service.run_in_background(name)


def check_idle() -> None:
    service = _active
    if service is not None:
        service.consolidate_if_idle()


def triggers(settings) -> dict[str, object]:
    """The schedule of each job, from the settings."""
    try:
        nightly = CronTrigger.from_crontab(settings.reflection_cron)
    except ValueError as exc:
        raise UserError(f"Invalid setting 'reflection_cron' ({exc}); use crontab syntax like '30 3 * * *'.") from None
    return {
        "consolidation": IntervalTrigger(hours=settings.consolidation_every_hours),
        "reflection": nightly,
        "forgetting": IntervalTrigger(hours=settings.forgetting_every_hours),
    }


class JobScheduler:
    def __init__(self, service: JobService):
        self.service = service
        self.settings = service.settings
        self.scheduler: BackgroundScheduler | None = None

    @property
    def running(self) -> bool:
        return self.scheduler is not None and self.scheduler.running

    def start(self) -> None:
        global _active
        if self.running:
            return
        grace = int(self.settings.jobs_misfire_grace_hours * 3600)
        self.scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.service.db.engine, tablename=JOBSTORE_TABLE),
                       "volatile": MemoryJobStore()},
            executors={"default": {"type": "threadpool", "max_workers": 1}},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": grace},
        )
        with _active_lock:
            _active = self.service
        # Paused first: the stored jobs are reconciled with the settings before anything due fires.
        self.scheduler.start(paused=True)
        for name, trigger in triggers(self.settings).items():
            existing = self.scheduler.get_job(name)
            if existing is None:
                self.scheduler.add_job(run_scheduled, trigger, args=[name], id=name, name=name)
            elif str(existing.trigger) != str(trigger):
                self.scheduler.reschedule_job(name, trigger=trigger)
        self.scheduler.add_job(check_idle, IntervalTrigger(minutes=1), id=IDLE_CHECK_ID, jobstore="volatile",
                               replace_existing=True)
        self.scheduler.resume()
        log.info("job scheduler started")

    def retry_later(self, name: str) -> None:
        if not self.running:
            return
        when = datetime.now().astimezone() + timedelta(minutes=self.settings.jobs_retry_minutes)
        self.scheduler.add_job(run_scheduled, "date", run_date=when, args=[name], id=f"{name}-retry",
                               name=f"{name} (retry)", replace_existing=True)

    def run_soon(self, name: str) -> None:
        """Queue one run now on the scheduler's worker (e.g. reflection after a session ends)."""
        if self.running:
            self.scheduler.add_job(run_scheduled, "date", args=[name], id=f"{name}-now", replace_existing=True,
                                   jobstore="volatile")

    def shutdown(self, wait: bool = True) -> None:
        global _active
        if not self.running:
            return
        self.service.stop_event.set()  # jobs stop at their next safe point
        self.scheduler.shutdown(wait=wait)
        self.scheduler = None
        with _active_lock:
            if _active is self.service:
                _active = None
        self.service.stop_event.clear()
        log.info("job scheduler stopped")

    def next_runs(self) -> dict[str, datetime | None]:
        """Next run time per job id, from the live scheduler or, when it is not running, from the job store."""
        if self.running:
            return {job.id: job.next_run_time for job in self.scheduler.get_jobs()}
        return stored_next_runs(self.service.db, JOBSTORE_TABLE)
