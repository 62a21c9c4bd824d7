"""JobService: run an upkeep job now, list the schedule, start and stop the scheduler,
and read what the jobs produced (the profile, the forgetting inbox)."""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from assistant.jobs.base import JobContext, JobResult, JobStopped
from assistant.jobs.consolidation import ConsolidationJob
from assistant.jobs.forgetting import ForgettingJob, forgetting_inbox
from assistant.jobs.profile import profile_lines, profile_text
from assistant.jobs.reflection import ReflectionJob
from assistant.jobs.scheduler import JobScheduler, triggers
from storage.db import Database
from storage.embedder import Embedder
from storage.enums import MemoryKind, RunStatus
from storage.errors import UserError
from storage.job_store import finish_run, last_ok_run, last_runs, start_run
from storage.models import Memory
from storage.timeutil import utcnow
from storage.vector_index import VectorIndex

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.llm.protocol import LanguageModel
    from assistant.memory.manager import MemoryManager

log = logging.getLogger(__name__)

JOBS = {job.name: job for job in (ConsolidationJob(), ReflectionJob(), ForgettingJob())}


class JobService:
    def __init__(self, db: Database, memory: MemoryManager, vector_index: VectorIndex, embedder: Embedder,
                 settings: Settings, load_model: Callable[[], LanguageModel] | None = None):
        self.db = db
        self.memory = memory
        self.vector_index = vector_index
        self.embedder = embedder
        self.settings = settings
        # The chat model, loaded on first use; None: jobs use their deterministic paths.
        self.load_model = load_model
        self.stop_event = threading.Event()
        self.scheduler = JobScheduler(self)
        self._locks = {name: threading.Lock() for name in JOBS}

    # -- running --------------------------------------------------------------------------------------
    def run(self, name: str, dry_run: bool = False) -> JobResult:
        """Run one job now and record it in job_runs. A dry run computes the same plan and changes nothing."""
        name = str(name).strip().lower()
        job = JOBS.get(name)
        if job is None:
            raise UserError(f"Unknown job '{name}'; use one of: {', '.join(JOBS)}.")
        lock = self._locks[name]
        if not lock.acquire(blocking=False):
            raise UserError(f"The {name} job is already running; try again when it has finished.")
        try:
            run_id = start_run(self.db, name, dry_run)
            ctx = JobContext(self.db, self.memory, self.vector_index, self.embedder, self.settings, dry_run=dry_run,
                             stop_event=self.stop_event, llm_factory=self.llm)
            result = JobResult(name, dry_run)
            try:
                result = job.run(ctx)
            except JobStopped:
                result.stopped = True
                finish_run(self.db, run_id, RunStatus.STOPPED, result.counts, "stopped at a safe point by shutdown")
                return result
            except BaseException as exc:
                finish_run(self.db, run_id, RunStatus.FAILED, result.counts,
                           "".join(traceback.format_exception_only(type(exc), exc)).strip())
                raise
            finish_run(self.db, run_id, RunStatus.OK, result.counts)
            return result
        finally:
            lock.release()

    def run_in_background(self, name: str) -> None:
        """What the scheduler calls: never raises; a failed run is recorded and retried later."""
        try:
            result = self.run(name)
            log.info("%s job: %s", name, {k: v for k, v in result.counts.items() if not k.startswith("_")})
        except UserError as exc:  # already running elsewhere: this slot is simply skipped
            log.info("%s job skipped: %s", name, exc)
        except Exception:
            log.exception("%s job failed; retrying in %s minutes", name, self.settings.jobs_retry_minutes)
            self.scheduler.retry_later(name)

    def consolidate_if_idle(self) -> bool:
        """Consolidate when the user has been idle long enough after enough new turns (checked every minute)."""
        st = self.settings
        last = last_ok_run(self.db, "consolidation")
        since = last["started_at"] if last else None
        with self.db.session() as s:
            q = select(func.count(Memory.id), func.max(Memory.recorded_at)).where(Memory.kind == MemoryKind.EPISODE)
            if since is not None:
                q = q.where(Memory.recorded_at > since)
            turns, latest = s.execute(q).one()
        if turns < st.consolidation_idle_min_turns or latest is None:
            return False
        if utcnow() - latest < timedelta(minutes=st.consolidation_idle_minutes):
            return False
        self.run_in_background("consolidation")
        return True

    def llm(self) -> LanguageModel | None:
        """The chat model for jobs, or None (jobs then use their deterministic paths)."""
        if not self.settings.jobs_use_llm or self.load_model is None:
            return None
        try:
            return self.load_model()
        except Exception as exc:  # a missing or broken model must not stop upkeep
            log.warning("jobs run without the chat model: %s", exc)
            return None

    # -- scheduler ------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the background scheduler (desktop app, `secondme serve`). Safe to call twice; does nothing
        when the setting jobs_enabled is off."""
        if self.settings.jobs_enabled:
            self.scheduler.start()

    def shutdown(self, wait: bool = True) -> None:
        """Ask a running job to stop at its next safe point, wait for it, stop the scheduler."""
        self.scheduler.shutdown(wait=wait)

    def run_soon(self, name: str) -> None:
        if name not in JOBS:
            raise UserError(f"Unknown job '{name}'; use one of: {', '.join(JOBS)}.")
        self.scheduler.run_soon(name)

    # -- reading --------------------------------------------------------------------------------------
    def list(self) -> list[dict[str, Any]]:
        """Per job: its schedule, next run, and last run (status, times, counts, error)."""
        schedule = self.schedules()
        nexts = self.scheduler.next_runs()
        out = []
        for name in JOBS:
            last = last_runs(self.db, name, 1)
            retry = nexts.get(f"{name}-retry")
            out.append({"job": name, "schedule": schedule[name], "next_run": nexts.get(name),
                        "retry_at": retry, "last_run": last[0] if last else None})
        return out

    def schedules(self) -> dict[str, str]:
        st = self.settings
        triggers(st)  # refuse a malformed crontab here too
        return {
            "consolidation": f"every {st.consolidation_every_hours:g} h; idle {st.consolidation_idle_minutes:g} min "
                             f"after {st.consolidation_idle_min_turns} turns",
            "reflection": f"cron {st.reflection_cron}",
            "forgetting": f"every {st.forgetting_every_hours:g} h",
        }

    def history(self, name: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        names = [name] if name else list(JOBS)
        if name and name not in JOBS:
            raise UserError(f"Unknown job '{name}'; use one of: {', '.join(JOBS)}.")
        runs = [r for n in names for r in last_runs(self.db, n, limit)]
        return sorted(runs, key=lambda r: -r["id"])[:limit]

    def profile_text(self, with_sources: bool = True) -> str:
        """The user's profile as prompt-ready text (see assistant.jobs.profile.profile_text); '' when empty."""
        return profile_text(self.db, with_sources)

    def profile_lines(self) -> list[dict[str, Any]]:
        return profile_lines(self.db)

    def forgetting_inbox(self, limit: int = 100) -> list[dict[str, Any]]:
        """What the forgetting job archived and nobody restored yet; restore with MemoryManager.restore(id)."""
        return forgetting_inbox(self.db, limit)
