"""jobs list | run | history | inbox | profile: scheduled memory upkeep from the command line."""

from __future__ import annotations

import typer

from assistant.cli.base import app, get_app, print_json
from assistant.cli.bounds import limit_option

jobs = typer.Typer(help="Memory upkeep: consolidation, reflection and forgetting.", no_args_is_help=True)
app.add_typer(jobs, name="jobs")

SHOW_CHANGES = 50


def _when(value) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else "-"


def _counts(counts: dict) -> str:
    shown = {k: v for k, v in counts.items() if not k.startswith("_") and k != "dry_run"}
    return ", ".join(f"{k}={v}" for k, v in shown.items()) or "-"


@jobs.command("list")
def list_jobs(as_json: bool = typer.Option(False, "--json")) -> None:
    """Each job's schedule, next run, and last run with its status."""
    rows = get_app().jobs.list()
    if as_json:
        print_json(rows)
        return
    typer.echo(f"{'job':<14} {'schedule':<40} {'next run':<17} {'last run':<17} {'status':<8} counts")
    for r in rows:
        last = r["last_run"] or {}
        nxt = _when(r["next_run"]) if r["next_run"] else "when the app runs"
        if r["retry_at"]:
            nxt = f"retry {_when(r['retry_at'])}"
        ended = _when(last.get("finished_at") or last.get("started_at"))
        typer.echo(f"{r['job']:<14} {r['schedule']:<40} {nxt:<17} {ended:<17} "
                   f"{last.get('status', 'never'):<8} {_counts(last.get('counts', {}))}")
        if last.get("error"):
            typer.echo(f"{'':<14} error: {last['error']}")


@jobs.command("run")
def run_job(
    name: str = typer.Argument(..., help="consolidation, reflection or forgetting."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would change; change nothing."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Run one upkeep job now and print what it changed."""
    result = get_app().jobs.run(name, dry_run=dry_run)
    if as_json:
        print_json(result.to_json())
        return
    head = "Dry run, nothing changed" if dry_run else "Done"
    if result.stopped:
        head = "Stopped early"
    typer.echo(f"{head}: {result.job}: {_counts(result.counts)}")
    for line in result.changes[:SHOW_CHANGES]:
        typer.echo(f"  {line}")
    if len(result.changes) > SHOW_CHANGES:
        typer.echo(f"  … and {len(result.changes) - SHOW_CHANGES} more (use --json for all)")
    if not result.changes:
        typer.echo("  nothing to change")
    if result.counts.get("_no_model"):
        typer.echo("  (no chat model available: only the profile upkeep ran, nothing new was written)")


@jobs.command("history")
def history(name: str | None = typer.Argument(None, help="Only this job."),
            limit: int = limit_option(20), as_json: bool = typer.Option(False, "--json")) -> None:
    """Recorded runs, newest first."""
    rows = get_app().jobs.history(name, limit)
    if as_json:
        print_json(rows)
        return
    for r in rows:
        dry = " (dry run)" if r["counts"].get("dry_run") else ""
        typer.echo(f"{r['id']:>5} {r['job']:<14} {_when(r['started_at'])} -> {_when(r['finished_at'])} "
                   f"{r['status']:<8}{dry} {_counts(r['counts'])}" + (f"  error: {r['error']}" if r["error"] else ""))
    if not rows:
        typer.echo("No runs yet.")


@jobs.command("inbox")
def inbox(limit: int = limit_option(50), as_json: bool = typer.Option(False, "--json")) -> None:
    """Memories the forgetting job archived; bring one back with `secondme memories restore ID`."""
    rows = get_app().jobs.forgetting_inbox(limit)
    if as_json:
        print_json(rows)
        return
    for r in rows:
        text = " ".join(r["text"].split())
        typer.echo(f"#{r['id']}  {_when(r['archived_at'])}  {text[:80]}  ({r['reason']})")
    if not rows:
        typer.echo("The forgetting inbox is empty.")


@jobs.command("profile")
def profile(as_json: bool = typer.Option(False, "--json")) -> None:
    """The profile reflection maintains, each line with the memories it cites."""
    service = get_app().jobs
    if as_json:
        print_json(service.profile_lines())
        return
    typer.echo(service.profile_text() or "No profile yet; it grows when the reflection job runs.")
