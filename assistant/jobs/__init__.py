"""Scheduled memory upkeep: consolidation, reflection (post-thinking) and forgetting. `app.jobs` is a JobService."""

from assistant.jobs.service import JOBS, JobService

__all__ = ["JOBS", "JobService"]
