"""undo, forget-session, memories history, extract: the ledger and the fact-extraction queue from the terminal."""

from __future__ import annotations

import typer

from assistant.cli.base import app, get_app, print_json
from assistant.cli.bounds import id_argument, limit_option
from assistant.cli.memory_cmds import memories


@app.command()
def undo(as_json: bool = typer.Option(False, "--json", help="Print what was reversed as JSON.")) -> None:
    """Reverse the last operation on memories (a remember, an extraction, a forget, a pin ...)."""
    result = get_app().memory.undo()
    if as_json:
        print_json(result)
        return
    changed = [e for e in result["events"] if e["change"] == "reversed"]
    typer.echo(f"Undid operation {result['operation_id'][:8]}: reversed {len(changed)} change(s).")
    for e in changed:
        typer.echo(f"  #{e['memory_id']}: {e['op']} reversed")


@app.command("forget-session")
def forget_session(
    session_id: int = id_argument("The conversation's id."),
    purge: bool = typer.Option(False, "--purge", help="Delete its memories for good instead of archiving them."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Forget what one conversation added to memory; facts it had replaced become current again."""
    result = get_app().memory.forget_session(session_id, purge=purge)
    if as_json:
        print_json(result)
        return
    verb = "deleted for good" if purge else "archived (undo with: secondme undo)"
    typer.echo(f"Session {session_id}: {len(result['forgotten'])} memories {verb}; "
               f"{len(result['restored'])} earlier fact(s) current again.")


@memories.command("history")
def history(memory_id: int = id_argument("The memory's id."), as_json: bool = typer.Option(False, "--json")) -> None:
    """Show a memory's ledger: every operation on it with its reason, and what it superseded or was superseded by."""
    h = get_app().memory.history(memory_id)
    if as_json:
        print_json(h)
        return
    typer.echo(f"#{memory_id} is {h['status']}")
    for e in h["events"]:
        session = f" session {e['session_id']}" if e["session_id"] is not None else ""
        typer.echo(f"  {e['created_at'][:19]}  {e['op']:<14} {e['reason']} (from {e['source']}{session})")
    for link in h["links"]:
        typer.echo(f"  link: #{link['from']} {link['kind']} #{link['to']}")


@app.command()
def extract(
    limit: int = limit_option(None, "Work on at most this many queued turns."),
    status: bool = typer.Option(False, "--status", help="Only show the queue."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Queue the turns whose extraction failed again."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Run fact extraction over the queued chat turns with the configured chat model."""
    a = get_app()
    queue = a.memory.extraction_queue
    if retry_failed:
        typer.echo(f"{queue.retry_failed()} failed turn(s) queued again.")
    result = {} if status else queue.run_pending(a.llm, limit=limit)
    counts = queue.counts()
    if as_json:
        print_json({"run": result, "queue": counts})
        return
    if result:
        typer.echo(f"Extraction: {result['done']} done, {result['retried']} to retry, {result['failed']} failed.")
    typer.echo("Queue: " + (", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "empty"))
