"""plugins, check, import, export: the plugin-facing commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from assistant.cli.base import app, get_app, print_json
from storage.enums import MemoryStatus, Source
from storage.errors import UserError


@app.command("plugins")
def list_plugins(as_json: bool = typer.Option(False, "--json", help="Print a JSON list.")) -> None:
    """List loaded plugins: name, version, source and the hooks each implements."""
    host = get_app().plugins
    rows = [p.to_json() for p in host.list()]
    if as_json:
        print_json(rows)
        return
    for p in rows:
        state = "" if p["status"] == "loaded" else f"  FAILED: {p['error']}"
        typer.echo(f"{p['name']} {p['version'] or '-'}  ({p['source']})  "
                   f"hooks: {', '.join(p['hooks']) or 'none'}{state}")


def _read_inputs(file: str | None) -> list[tuple[str, dict]]:
    """One input per line: plain text, or a JSON object with a `text` field (JSON Lines)."""
    if file in (None, "-"):
        raw = sys.stdin.buffer.read()
        where = "standard input"
    else:
        path = Path(file)
        if not path.is_file():
            raise UserError(f"File not found: {path}" if not path.exists()
                            else f"{path} is a folder; give a text file.")
        raw = path.read_bytes()
        where = str(path)
    if b"\x00" in raw[:8192]:
        raise UserError(f"{where} is a binary file; give text, one input per line.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{where} is not valid UTF-8 (at byte {exc.start}); convert it first.") from None
    inputs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"Line {number} of {where} starts like JSON but is not ({exc.msg}).") from None
            if not isinstance(obj.get("text"), str):
                raise UserError(f"Line {number} of {where} is a JSON object without a string 'text' field.")
            inputs.append((obj["text"], obj))
        else:
            inputs.append((line, {}))
    return inputs


@app.command()
def check(
    file: str | None = typer.Argument(None, help="A text or JSON Lines file; '-' or nothing reads standard input."),
    source: str = typer.Option("document", "--source",
                               help="Judge as if from: user, assistant, document, plugin, api."),
) -> None:
    """Run the write-path checks on text without storing anything; one JSON verdict per input line."""
    from assistant.memory.write_path import DEFAULT_TRUST
    from plugins.api import Candidate

    inputs = _read_inputs(file)
    if not inputs:
        raise UserError("Nothing to check: the input has no non-empty lines.")
    a = get_app()
    vectors = a.embedder.embed([t for t, _ in inputs])
    has_memories = a.memory.count(status=MemoryStatus.ACTIVE) > 0
    for (text, extra), vector in zip(inputs, vectors):
        src = Source.parse(extra.get("source", source))
        candidate = Candidate(text=text, kind=extra.get("kind", "fact"), source=src,
                                    trust=float(extra.get("trust", DEFAULT_TRUST[src])))
        similar = [h.memory for h in a.memory.recall(text, k=5)] if has_memories else []
        verdict = a.plugins.check_memory(candidate, {"similar": similar, "embedding": vector})
        out = {"verdict": verdict.decision, "reasons": [r for r in verdict.reason.split("; ") if r],
               "score": round(verdict.score, 4)}
        if verdict.contradicts_ids:
            out["contradicts"] = list(verdict.contradicts_ids)
        if extra.get("id") is not None:
            out["id"] = extra["id"]
        typer.echo(json.dumps(out, ensure_ascii=False))


@app.command("import")
def import_(
    kind: str = typer.Argument(..., help="obsidian (a folder of notes), chatgpt or claude (conversations.json) "
                                         "or json (secondme's export)."),
    path: Path = typer.Argument(..., help="The folder or file to import."),
    as_json: bool = typer.Option(False, "--json", help="Print the import report as JSON."),
    mine: bool = typer.Option(False, "--mine", help="These are my own notes or chats: store them as mine (the "
                                                    "user's channel and its rules) rather than as a document."),
) -> None:
    """Import notes or chat history (each memory passes the write-path checks) and print what happened:
    stored, quarantined (with the top reasons), duplicates, skipped (with why).

    `json` with a full export (`secondme export json`, version 2) restores it exactly: every memory, link,
    ledger event and chat under its own id. That is done only into an empty data folder (set SECONDME_HOME).
    An older secondme JSON export (version 1, or a chat export) is added as new document memories."""
    from assistant.imports import report_json, report_lines, run_import

    a = get_app()
    archive = a.portable.read(path) if kind == "json" else None
    if archive is not None:
        restored = a.portable.restore(archive)
        if as_json:
            print_json(restored.to_json())
            return
        n = restored.counts
        typer.echo(f"Restored {n['memories']} memories, {n['links']} links, {n['events']} ledger events and "
                   f"{n['sessions']} chats ({n['messages']} messages) from {path}.")
        return
    report = run_import(a.plugins, kind, path, mine=mine)
    if as_json:
        print_json(report_json(report))
        return
    typer.echo(f"Imported {report_json(report)['stored']} memories from {path}" + (" as your own" if mine else "")
               + ".")
    for line in report_lines(report):
        typer.echo(f"  {line}")
    skipped = getattr(report, "skipped", [])
    for line in skipped[:20]:
        typer.echo(f"skipped {line}", err=True)
    if len(skipped) > 20:
        typer.echo(f"... and {len(skipped) - 20} more skipped (see --json)", err=True)


@app.command("export")
def export(
    kind: str = typer.Argument(..., help="json (everything, lossless) or markdown (readable)."),
    path: Path = typer.Argument(..., help="The file to write (or a folder to write into)."),
) -> None:
    """Export to one file. json: every memory with all its fields (deleted ones as tombstones), links, the
    ledger and the chats, which `import json` restores exactly. markdown: every memory except deleted ones."""
    a = get_app()
    if kind == "json":
        result = a.portable.export(path)
        n = result.counts
        typer.echo(f"Exported {n['memories']} memories, {n['links']} links, {n['events']} ledger events and "
                   f"{n['sessions']} chats ({n['messages']} messages) to {result.path}.")
        return
    count = a.plugins.run_integration("export", kind, path)
    typer.echo(f"Exported {count} memories to {path}.")
