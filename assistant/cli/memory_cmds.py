"""remember, recall, memories …, reindex."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from assistant.cli.base import app, get_app, print_json
from assistant.cli.bounds import RECALL_K_MAX, id_argument, limit_option, offset_option
from storage.enums import MemoryStatus
from storage.errors import UserError
from storage.records import NewMemory

memories = typer.Typer(help="List, inspect, pin, forget, restore or delete memories.", no_args_is_help=True)
app.add_typer(memories, name="memories")


def _short(text: str, width: int = 100) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _print_record(record, as_json: bool) -> None:
    if as_json:
        print_json(record.to_json())
        return
    pin = " pinned" if record.pinned else ""
    typer.echo(f"#{record.id} [{record.kind}, {record.status}{pin}, from {record.source}] "
               f"{record.recorded_at:%Y-%m-%d %H:%M}")
    typer.echo(record.text)


@app.command()
def remember(
    text: str | None = typer.Argument(None, help="What to remember; '-' reads standard input."),
    file: Path | None = typer.Option(None, "--file", "-f", help="Remember the contents of a UTF-8 text file."),
    at: str | None = typer.Option(None, "--at", help="When it was said, e.g. '2023-05-08 13:56' (for back-filling)."),
    source: str = typer.Option("user", "--source", help="Source channel: user, assistant, document, plugin, api."),
    kind: str = typer.Option("fact", "--kind", help="Memory kind: fact, episode, summary, thought, profile."),
    slot: str | None = typer.Option(None, "--slot", help="Single-valued slot it sets, e.g. user.home_city: "
                                                            "the slot's previous value is superseded."),
    as_json: bool = typer.Option(False, "--json", help="Print the stored memory as JSON."),
) -> None:
    """Store something to remember. Works without any language model."""
    from assistant.memory.text_rules import read_text_file
    from assistant.timeparse import parse_when

    if file is not None and text is not None:
        raise UserError("Give either TEXT or --file, not both.")
    if file is not None:
        body = read_text_file(file)
    elif text == "-":
        data = sys.stdin.buffer.read()
        try:
            body = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise UserError(f"Standard input is not valid UTF-8 (at byte {exc.start}); convert it first.") from None
    elif text is None:
        raise UserError("Nothing to remember; give TEXT, '-' for standard input, or --file PATH.")
    else:
        body = text
    when = parse_when(at) if at else None
    provenance = {"file": str(file)} if file else {}
    from assistant.memory.manager import MemoryRejected

    outcome = get_app().memory.write([NewMemory(body, kind=kind, source=source, at=when, provenance=provenance,
                                           slot_key=slot)])[0]
    if outcome.record is None:
        raise MemoryRejected(f"Not stored: {outcome.reason}. The reason is kept in the ledger.")
    record = outcome.record
    if as_json:
        print_json(record.to_json())
    elif outcome.action == "stored":
        replaced = f"; it replaces #{', #'.join(map(str, outcome.superseded))}" if outcome.superseded else ""
        typer.echo(f"Remembered #{record.id}{replaced}.")
        if outcome.contradicts:
            typer.echo(f"It contradicts #{', #'.join(map(str, outcome.contradicts))}; settle it with: "
                       "secondme memories conflicts")
    else:
        typer.echo(f"{outcome.action.capitalize()}: #{record.id} ({outcome.reason}); "
                   f"see: secondme memories history {record.id}")


@app.command()
def recall(
    query: str = typer.Argument(..., help="What to look for, in your own words."),
    k: int = typer.Option(None, "--k", "-k", min=1, max=RECALL_K_MAX,
                           help="How many memories to show (default from settings)."),
    history: bool = typer.Option(False, "--history", help="Include superseded and archived memories."),
    as_of: str | None = typer.Option(None, "--as-of",
                                        help="Read 'last week', 'yesterday'... relative to this date, not now."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list with scores."),
) -> None:
    """Find the memories that best match QUERY (dense + keyword hybrid search, time- and status-aware)."""
    from assistant.timeparse import parse_when

    reference = parse_when(as_of) if as_of else None
    hits = get_app().memory.recall(query, k=k, history=history, reference_time=reference)
    if as_json:
        print_json([h.to_json() for h in hits])
        return
    if not hits:
        typer.echo("No memories match.")
    for h in hits:
        extra = "" if h.memory.status == MemoryStatus.ACTIVE else f" ({h.memory.status})"
        typer.echo(f"#{h.memory.id}  {h.score:.4f}  {h.memory.recorded_at:%Y-%m-%d}  {_short(h.memory.text)}{extra}")


@memories.command("list")
def list_memories(
    kind: str | None = typer.Option(None, "--kind", help="Only this kind."),
    status: str = typer.Option("active", "--status", help="active, superseded, quarantined, archived, deleted or all."),
    limit: int = limit_option(50),
    offset: int = offset_option(),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List memories, newest first."""
    rows = get_app().memory.list(kind=kind, status=None if status == "all" else status, limit=limit, offset=offset)
    if as_json:
        print_json([r.to_json() for r in rows])
        return
    for r in rows:
        typer.echo(f"#{r.id}  {r.kind:<8} {r.status:<11} {r.recorded_at:%Y-%m-%d}  {_short(r.text)}")
    if not rows:
        typer.echo("No memories.")


@memories.command("show")
def show_memory(memory_id: int = id_argument("The memory's id."), as_json: bool = typer.Option(False, "--json"),
                events: bool = typer.Option(False, "--events", help="Also show its ledger.")) -> None:
    """Show one memory."""
    record = get_app().memory.get(memory_id)
    if as_json:
        data = record.to_json()
        if events:
            data["events"] = get_app().memory.events(memory_id)
        print_json(data)
        return
    _print_record(record, False)
    if events:
        for e in get_app().memory.events(memory_id):
            typer.echo(f"  {e['created_at'][:19]}  {e['op']:<10} {e['reason']}")


@memories.command("pin")
def pin_memory(memory_id: int = id_argument("The memory's id."),
               off: bool = typer.Option(False, "--off", help="Unpin instead.")) -> None:
    """Pin a memory: never forgotten by the forgetting job."""
    record = get_app().memory.pin(memory_id, pinned=not off)
    typer.echo(f"#{record.id} {'pinned' if record.pinned else 'unpinned'}.")


@memories.command("forget")
def forget_memory(memory_id: int = id_argument("The memory's id.")) -> None:
    """Archive a memory: out of recall, restorable with `memories restore`."""
    get_app().memory.forget(memory_id)
    typer.echo(f"#{memory_id} archived; undo with: secondme memories restore {memory_id}")


@memories.command("restore")
def restore_memory(memory_id: int = id_argument("The memory's id.")) -> None:
    """Bring an archived memory back into recall."""
    get_app().memory.restore(memory_id)
    typer.echo(f"#{memory_id} restored.")


@memories.command("delete")
def delete_memory(memory_id: int = id_argument("The memory's id."),
                  yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask.")) -> None:
    """Delete a memory for good (its text leaves the database and both indexes)."""
    mm = get_app().memory
    mm.get(memory_id)
    if not yes and not typer.confirm(f"Delete memory #{memory_id} for good?", default=False):
        raise typer.Exit(1)
    mm.delete(memory_id)
    typer.echo(f"#{memory_id} deleted for good.")


@app.command()
def reindex(check: bool = typer.Option(False, "--check", help="Only compare, repairing what differs.")) -> None:
    """Rebuild the keyword and vector indexes from the database."""
    mm = get_app().memory
    if check:
        fixed = mm.repair_indexes()
        typer.echo("Indexes checked; repaired: " + ", ".join(f"{k}={v}" for k, v in fixed.items()))
        return
    n = mm.reindex()
    typer.echo(f"Reindexed {n} memories.")


@memories.command("conflicts")
def list_conflicts(as_json: bool = typer.Option(False, "--json")) -> None:
    """Pairs of active memories that contradict each other, waiting for you to settle them."""
    conflicts = get_app().review.conflicts()
    if as_json:
        print_json([{"conflict": c.link_id, "first": c.first.to_json(), "second": c.second.to_json(),
                     "found_at": c.created_at.isoformat()} for c in conflicts])
        return
    for c in conflicts:
        typer.echo(f"conflict {c.link_id}:\n  #{c.first.id}  {c.first.recorded_at:%Y-%m-%d}  {_short(c.first.text)}\n"
                   f"  #{c.second.id}  {c.second.recorded_at:%Y-%m-%d}  {_short(c.second.text)}")
    if not conflicts:
        typer.echo("No open conflicts.")
    else:
        typer.echo("Settle one with: secondme memories resolve CONFLICT --keep ID [--text 'corrected'] | --both")


@memories.command("resolve")
def resolve_conflict(
    conflict: int = typer.Argument(..., min=1, help="The conflict's number, from `secondme memories conflicts`."),
    keep: int | None = typer.Option(None, "--keep", min=1, help="The memory that is right; the other is retired."),
    text: str | None = typer.Option(None, "--text", help="With --keep: the kept memory, corrected."),
    both: bool = typer.Option(False, "--both", help="Both are true (e.g. at different times): keep both."),
) -> None:
    """Settle a contradiction: keep one side (optionally corrected), or both. `secondme undo` reverses it."""
    review = get_app().review
    if both == (keep is not None) or (text is not None and keep is None):
        raise UserError("Give either --keep ID (with --text to correct it) or --both.")
    if both:
        review.dismiss_conflict(conflict)
        typer.echo(f"Conflict {conflict}: both memories kept.")
        return
    assert keep is not None
    kept = review.resolve_conflict(conflict, keep, text=text)
    typer.echo(f"Conflict {conflict}: kept #{kept.id}; the other memory is retired (superseded).")
