"""Import a folder of Markdown notes (an Obsidian vault).

A note becomes heading-aware passages that fit the embedder (passages.py), each starting with the note's title and
headings and carrying its path in the provenance; each passage `continues` the one before, and a [[wikilink]]
becomes a `related` link to the linked note's first passage. Front matter tags open the first passage, so they are
searchable; %%comments%% are dropped; embeds and attachments are listed in the report, not imported.

Re-importing the same folder compares each note's content hash with what the last import stored: an unchanged note
is left alone, a changed one replaces its passages (the old ones are archived), a note deleted from the folder has
its passages archived. Nothing is duplicated.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from plugins.builtin.integrations.chats import archive
from plugins.builtin.integrations.common import (
    MAX_NOTE_BYTES,
    ImportReport,
    Planned,
    Progress,
    content_hash,
    imported_records,
    store_planned,
)
from plugins.builtin.integrations.passages import header, passages
from storage.enums import MemoryKind, Source
from storage.errors import UserError
from storage.records import MemoryRecord, NewMemory

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(\r?\n|\Z)", re.DOTALL)
_WIKILINK = re.compile(r"(!?)\[\[([^\]|#\n]*)(#[^\]|\n]*)?(?:\|([^\]\n]*))?\]\]")
_MD_EMBED = re.compile(r"!\[([^\]\n]*)\]\(([^)\n]+)\)")
_TAG = re.compile(r"(?<![\w/#&])#([A-Za-z][\w/-]*)")
_CODE = re.compile(r"```.*?```", re.DOTALL)
_COMMENT = re.compile(r"%%.*?%%", re.DOTALL)
NOTE_SUFFIXES = {".md", ".markdown"}


def parse_note(text: str) -> tuple[dict[str, Any], str, str | None]:
    """(front matter, body, problem). Broken front matter is left out of the body and named as the problem."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text, None
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        return {}, text[match.end():], f"front matter is not valid YAML{where}; imported without it"
    except RecursionError:
        return {}, text[match.end():], "front matter is nested too deeply; imported without it"
    if not isinstance(meta, dict):
        return {}, text[match.end():], "front matter is not a set of fields; imported without it"
    return meta, text[match.end():], None


def _front_matter_tags(meta: dict[str, Any]) -> list[str]:
    raw = meta.get("tags") or meta.get("tag") or []
    if isinstance(raw, str):
        raw = [t for t in re.split(r"[,\s]+", raw) if t]
    if not isinstance(raw, list):
        return []
    return [str(t).strip().lstrip("#") for t in raw if str(t).strip().lstrip("#")]


def note_provenance(vault: Path, rel: str, meta: dict[str, Any], body: str) -> dict[str, Any]:
    tags = set(_TAG.findall(_CODE.sub("", body))) | set(_front_matter_tags(meta))
    return {
        "importer": "obsidian", "vault": str(vault), "file": rel, "title": Path(rel).stem,
        "links": sorted({m[1].strip() for m in _WIKILINK.findall(body) if not m[0] and m[1].strip()}),
        "tags": sorted(tags),
        # YAML dates become date objects: keep JSON-friendly strings.
        "front_matter": {str(k): v if isinstance(v, (str, int, float, bool, type(None))) else
                         [str(x) for x in v] if isinstance(v, list) else str(v) for k, v in meta.items()},
    }


def _walk(vault: Path, root: Path, report: ImportReport) -> list[Path]:
    """Notes under the vault, skipping hidden folders (.obsidian, .trash); what cannot be a note is reported."""
    notes: list[Path] = []
    for folder, dirs, files in os.walk(vault, followlinks=False):
        here = Path(folder)
        kept = []
        for d in sorted(dirs):
            if d.startswith("."):
                continue
            path = here / d
            if path.is_symlink():
                rel = path.relative_to(vault).as_posix()
                real = path.resolve()
                report.skip(rel + "/", "a link to a folder outside the vault" if not real.is_relative_to(root)
                            else "a link to another folder of the vault (imported there)")
                continue
            kept.append(d)
        dirs[:] = kept
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = here / name
            rel = path.relative_to(vault).as_posix()
            if path.suffix.lower() in NOTE_SUFFIXES:
                notes.append(path)
            else:
                report.attachments.append(rel)
                report.skipped_counts["attachment (not a note)"] += 1
    return notes


def _read(note: Path, rel: str, root: Path, report: ImportReport) -> str | None:
    if note.is_symlink() and not note.resolve().is_relative_to(root):
        report.skip(rel, "links outside the vault")
        return None
    try:
        size = note.stat().st_size
        if size > MAX_NOTE_BYTES:
            report.skip(rel, f"{size:,} bytes, over the {MAX_NOTE_BYTES:,}-byte note limit; split the note")
            return None
        raw = note.read_bytes()
    except OSError as exc:
        report.skip(rel, f"cannot be read ({exc.strerror or type(exc).__name__})")
        return None
    if b"\x00" in raw:
        report.skip(rel, "binary file")
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        report.skip(rel, "not UTF-8")
        return None


def _readable(body: str, report: ImportReport, rel: str, stems: dict[str, str]) -> tuple[str, list[str]]:
    """The body as text to store: comments dropped, wikilinks as their words, embeds listed and left out.
    Returns (text, the vault paths of the notes it links to)."""
    linked: list[str] = []

    def wikilink(m: re.Match[str]) -> str:
        embed, target, _, alias = m.group(1), m.group(2).strip(), m.group(3), m.group(4)
        note = stems.get(target.casefold()) or stems.get(Path(target).stem.casefold())
        if embed and note is None:
            report.attachments.append(f"{rel}: {target}")
            report.skipped_counts["embed (not imported)"] += 1
            return ""
        if note is not None and note != rel:
            linked.append(note)
        return (alias or target).strip()

    def md_embed(m: re.Match[str]) -> str:
        report.attachments.append(f"{rel}: {m.group(2).strip()}")
        report.skipped_counts["embed (not imported)"] += 1
        return m.group(1)

    text = _COMMENT.sub("", body)
    text = _WIKILINK.sub(wikilink, text)
    text = _MD_EMBED.sub(md_embed, text)
    return text, list(dict.fromkeys(linked))


def plan_note(rel: str, provenance: dict[str, Any], body: str, meta: dict[str, Any], linked: list[str],
              source: Source, note_hash: str) -> list[Planned]:
    title = provenance["title"]
    folder = Path(rel).parent.as_posix()
    folder = "" if folder == "." else folder
    tags = _front_matter_tags(meta)
    cut = passages(body)
    planned: list[Planned] = []
    for index, passage in enumerate(cut):
        head = header(title, folder, passage.headings)
        if index == 0 and tags:
            head += "\nTags: " + ", ".join(f"#{t}" for t in tags)
        text = f"{head}\n\n{passage.text}".strip()
        prov = dict(provenance, passage=index + 1, passages=len(cut), note_hash=note_hash, key=f"{rel}#{index}")
        related = tuple(f"{target}#0" for target in linked) if index == 0 else ()
        planned.append(Planned(NewMemory(text, kind=MemoryKind.FACT, source=source, provenance=prov),
                               key=f"{rel}#{index}", group=rel, after=planned[-1].key if planned else None,
                               related=related))
    return planned


def import_vault(context, path: Path, progress: Progress | None = None, mine: bool = False) -> ImportReport:
    vault = Path(path)
    if not vault.exists():
        raise UserError(f"Folder not found: {vault}")
    if not vault.is_dir():
        raise UserError(f"{vault} is a file; give the vault's folder (the one holding your .md notes).")
    root = vault.resolve()
    report = ImportReport(importer="obsidian", unit="notes")
    notes = _walk(vault, root, report)
    if not notes:
        raise UserError(f"No Markdown notes (*.md) in {vault}; is this the vault folder?")
    stems: dict[str, str] = {}
    for note in notes:
        rel = note.relative_to(vault).as_posix()
        stems.setdefault(note.stem.casefold(), rel)
        stems.setdefault(rel.casefold(), rel)
        stems.setdefault(rel.casefold().rsplit(".", 1)[0], rel)
    source = Source.USER if mine else Source.DOCUMENT
    present: set[str] = set()
    drafts: list[tuple[str, str, list[Planned]]] = []
    for note in notes:
        rel = note.relative_to(vault).as_posix()
        text = _read(note, rel, root, report)
        if text is None:
            present.add(rel)  # still in the folder: what an earlier import stored of it stays
            continue
        present.add(rel)
        meta, body, problem = parse_note(text)
        if problem:
            report.warnings.append(f"{rel}: {problem}")
        readable, linked = _readable(body, report, rel, stems)
        if not readable.strip():
            report.skip(rel, "empty note")
            continue
        provenance = note_provenance(root, rel, meta, body)
        note_hash = content_hash(text)
        drafts.append((rel, note_hash, plan_note(rel, provenance, readable, meta, linked, source, note_hash)))
    earlier: dict[str, list[MemoryRecord]] = {}
    for m in imported_records(context, lambda p: p.get("importer") == "obsidian" and p.get("vault") == str(root)):
        earlier.setdefault(str(m.provenance.get("file")), []).append(m)
    planned: list[Planned] = []
    known: dict[str, MemoryRecord] = {}
    reason = f"imported from Obsidian vault {vault.name}" + (" (the user's own notes)" if mine else "")
    for rel, note_hash, items in drafts:
        old = earlier.get(rel, [])
        if old and all(m.provenance.get("note_hash") == note_hash for m in old):
            report.counts["unchanged notes"] += 1
            report.duplicates += len(old)
            known.update({str(m.provenance.get("key")): m for m in old})
            continue
        if old:
            archive(context, old, f"note {rel} changed; replaced by a re-import")
            report.counts["updated notes"] += 1
        else:
            report.counts["new notes"] += 1
        planned += items
    for rel, old in earlier.items():
        if rel not in present:
            archive(context, old, f"note {rel} is no longer in the vault")
            report.counts["archived notes"] += 1
    report.counts["passages"] = len(planned)
    store_planned(context, planned, report, reason=reason, progress=progress, known=known)
    return report
