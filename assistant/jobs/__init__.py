"""Scheduled memory upkeep: consolidation, reflection (post-thinking) and forgetting. `app.jobs` is a JobService.

For the other front ends:
- GUI and `secondme serve`: `app.jobs.start()` at start-up, `app.jobs.shutdown()` on quit (App.close() calls it;
  it waits for a running job to reach its next safe point). Start is a no-op when the setting jobs_enabled is off.
- ChatService: `app.jobs.profile_text()` is the prompt-ready profile ('' while empty): '## Section' headings and
  '- line [#ids]' lines, each citing the memories it rests on. `app.jobs.run_soon("reflection")` after a session
  ends queues one reflection on the scheduler's worker (no-op when the scheduler is not running).
  Consolidation also starts by itself once the user has been idle `consolidation_idle_minutes` after
  `consolidation_idle_min_turns` new episodes (checked every minute; nothing to call).
- Memory browser: `app.jobs.forgetting_inbox()` lists what forgetting archived; `app.memory.restore(id)` undoes it.
  `app.jobs.list()` and `app.jobs.history()` show schedules and recorded runs (job_runs).

Settings (assistant/config.py): consolidation_*, duplicate_*, related_*, session_finished_minutes,
summary_max_chars, reflection_*, profile_max_lines, support_min_overlap, forgetting_*, reinforce_min_gap_hours,
jobs_* (schedules, misfire grace, retry delay, use of the chat model).
"""

from assistant.jobs.service import JOBS, JobService

__all__ = ["JOBS", "JobService"]
