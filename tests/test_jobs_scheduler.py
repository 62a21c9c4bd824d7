"""The scheduler and the run bookkeeping: persistent schedule, catch-up at start, failures, retry, safe stop."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from assistant.jobs import service as service_mod
from assistant.jobs.base import JobResult
from storage.errors import UserError
from storage.job_store import start_run
from storage.models import JobRun
from tests.conftest import run_cli


@pytest.fixture(autouse=True)
def _no_chat_model(app):
    """These tests cover the jobs' own logic: no real chat model (it has its own end-to-end test)."""
    app.settings.jobs_use_llm = False


T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def _runs(app, job):
    with app.db.session() as s:
        return [(r.status, r.error) for r in s.scalars(select(JobRun).where(JobRun.job == job).order_by(JobRun.id))]


def _wait_for(predicate, what):
    done = threading.Event()
    for _ in range(400):  # the scheduler's worker thread needs real time; poll with an upper bound
        if predicate():
            return
        done.wait(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_schedule_persists_and_missed_runs_are_caught_up_once(app):
    with time_machine.travel(T0, tick=True):
        app.jobs.start()
        nexts = app.jobs.scheduler.next_runs()
        assert set(nexts) >= {"consolidation", "reflection", "forgetting"}
        app.jobs.shutdown()
        stored = app.jobs.scheduler.next_runs()  # read back from the job store, scheduler stopped
        assert stored["consolidation"] == nexts["consolidation"]
    # Closed for three days: consolidation missed 12 runs, forgetting 3; each runs once at start-up.
    with time_machine.travel(T0 + timedelta(days=3), tick=True):
        app.jobs.start()
        try:
            _wait_for(lambda: len(_runs(app, "consolidation")) and len(_runs(app, "forgetting"))
                      and _runs(app, "forgetting")[-1][0] != "running", "catch-up runs")
        finally:
            app.jobs.shutdown()
        assert _runs(app, "consolidation") == [("ok", None)]
        assert _runs(app, "forgetting") == [("ok", None)]
        later = app.jobs.scheduler.next_runs()["consolidation"]
        assert later > datetime.now(UTC)


def test_a_failing_run_is_recorded_and_retried_later(app, monkeypatch):
    def broken(ctx):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(service_mod.JOBS["forgetting"], "run", broken)
    app.jobs.start()
    try:
        app.jobs.run_in_background("forgetting")
        assert _runs(app, "forgetting") == [("failed", "RuntimeError: disk on fire")]
        row = next(r for r in app.jobs.list() if r["job"] == "forgetting")
        assert row["retry_at"] is not None and row["last_run"]["status"] == "failed"
    finally:
        app.jobs.shutdown()


def test_shutdown_waits_for_the_running_job_to_reach_a_safe_point(app, monkeypatch):
    started, batches = threading.Event(), []

    def endless(ctx):
        started.set()
        while True:  # a job with many batches
            ctx.checkpoint()
            batches.append(1)
            ctx.stop_event.wait(0.01)

    monkeypatch.setattr(service_mod.JOBS["consolidation"], "run", endless)
    app.jobs.start()
    app.jobs.run_soon("consolidation")
    assert started.wait(20)
    app.jobs.shutdown(wait=True)
    assert _runs(app, "consolidation") == [("stopped", "stopped at a safe point by shutdown")]
    assert batches


def test_one_run_at_a_time_even_across_processes(app):
    start_run(app.db, "reflection", False)  # as if another process were running it
    with pytest.raises(UserError, match="already running"):
        app.jobs.run("reflection")


def test_consolidation_runs_when_idle_after_enough_turns(app, monkeypatch):
    ran = []
    monkeypatch.setattr(service_mod.JOBS["consolidation"], "run",
                        lambda ctx: ran.append(1) or JobResult("consolidation", ctx.dry_run))
    with time_machine.travel(T0, tick=False):
        for i in range(4):
            app.memory.record_turn(None, f"question {i}", f"answer {i}", [i])
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        assert app.jobs.consolidate_if_idle() is False  # only 4 turns
        app.memory.record_turn(None, "question 5", "answer 5", [5])
    with time_machine.travel(T0 + timedelta(minutes=35), tick=False):
        assert app.jobs.consolidate_if_idle() is False  # not idle for 20 minutes yet
    with time_machine.travel(T0 + timedelta(minutes=60), tick=False):
        assert app.jobs.consolidate_if_idle() is True
        assert ran == [1]
        assert app.jobs.consolidate_if_idle() is False  # no new turns since that run


def test_unknown_job_and_bad_schedule_are_clear_errors(app):
    with pytest.raises(UserError, match="Unknown job 'tidy'"):
        app.jobs.run("tidy")
    app.settings.reflection_cron = "every night"
    with pytest.raises(UserError, match="reflection_cron"):
        app.jobs.list()


def test_cli_run_dry_run_list_and_bad_input(app):
    first = app.memory.remember("I volunteer as a tutor at the city library.")
    second = app.memory.remember("I am volunteering as a tutor at the city library.")
    dry = run_cli("jobs", "run", "consolidation", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert (b"Dry run, nothing changed" in dry.stdout
            and f"would merge #{second.id} into #{first.id}".encode() in dry.stdout)
    assert app.memory.get(second.id).status == "active"
    done = run_cli("jobs", "run", "consolidation")
    assert f"merged #{second.id} into #{first.id}".encode() in done.stdout
    assert app.memory.get(second.id).status == "archived"
    table = run_cli("jobs", "list")
    assert table.returncode == 0 and b"consolidation" in table.stdout and b" ok " in table.stdout
    bad = run_cli("jobs", "run", "defrag")
    assert bad.returncode == 2 and bad.stderr.startswith(b"error: Unknown job 'defrag'")
