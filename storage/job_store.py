"""The job_runs table: one row per run (start, end, status, counts, error), also used as a cross-process lock;
and the next run times APScheduler keeps in its own table."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import inspect, select, text

from storage.db import Database
from storage.errors import UserError
from storage.models import JobRun
from storage.timeutil import utcnow

# A "running" row older than this was left by a process that died; it no longer blocks a new run.
STALE_RUN = timedelta(hours=2)


def start_run(db: Database, job: str, dry_run: bool) -> int:
    """Record the start of a run; refuse if the same job is running in another thread or process."""
    with db.session() as s:
        running = s.scalars(select(JobRun).where(JobRun.job == job, JobRun.status == "running")).all()
        for row in running:
            if utcnow() - row.started_at < STALE_RUN:
                raise UserError(f"The {job} job is already running (started {row.started_at:%Y-%m-%d %H:%M} UTC); "
                                "try again when it has finished.")
            row.status, row.finished_at, row.error = "failed", utcnow(), "abandoned: the process running it ended"
        run = JobRun(job=job, status="running", counts={"dry_run": 1} if dry_run else {})
        s.add(run)
        s.flush()
        return run.id


def finish_run(db: Database, run_id: int, status: str, counts: dict[str, Any], error: str | None = None) -> None:
    with db.session() as s:
        run = s.get(JobRun, run_id)
        if run is None:  # removed by a restore while the job ran: nothing left to finish
            return
        run.status, run.finished_at, run.error = status, utcnow(), error
        run.counts = {**(run.counts or {}), **counts}


def last_runs(db: Database, job: str, limit: int = 1) -> list[dict[str, Any]]:
    with db.session() as s:
        rows = s.scalars(select(JobRun).where(JobRun.job == job).order_by(JobRun.id.desc()).limit(limit))
        return [{"id": r.id, "job": r.job, "status": r.status, "started_at": r.started_at,
                 "finished_at": r.finished_at, "counts": r.counts or {}, "error": r.error} for r in rows]


def last_ok_run(db: Database, job: str, real_only: bool = True) -> dict[str, Any] | None:
    """The latest successful run (dry runs excluded when real_only): where incremental work resumes."""
    with db.session() as s:
        for r in s.scalars(select(JobRun).where(JobRun.job == job, JobRun.status == "ok").order_by(JobRun.id.desc())):
            if real_only and (r.counts or {}).get("dry_run"):
                continue
            return {"id": r.id, "started_at": r.started_at, "finished_at": r.finished_at, "counts": r.counts or {}}
    return None


def stored_next_runs(db: Database, table: str) -> dict[str, datetime | None]:
    """Next run time per job id as APScheduler's job store `table` holds it (read while no scheduler runs)."""
    if not inspect(db.engine).has_table(table):
        return {}
    with db.engine.connect() as conn:
        rows = conn.execute(text(f"SELECT id, next_run_time FROM {table}")).all()
    return {job_id: datetime.fromtimestamp(ts).astimezone() if ts is not None else None for job_id, ts in rows}
