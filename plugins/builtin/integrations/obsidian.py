"""Import a folder of Markdown notes. Front matter, [[links]] and #tags are kept as provenance."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from plugins.builtin.integrations.common import MAX_NOTE_BYTES, ImportReport, Progress, split_long, store
from storage.enums import MemoryKind, Source
from storage.errors import UserError
from storage.records import NewMemory

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(\n|\Z)", re.DOTALL)
_WIKILINK = re.compile(r"!?\[\[([^\]|#]+)(?:#[^\]|]*)?(?:\|[^\]]*)?\]\]")
_TAG = re.compile(r"(?<![\w/#&])#([A-Za-z][\w/-]*)")
_CODE = re.compile(r"```.*?```", re.DOTALL)


def parse_note(text: str) -> tuple[dict[str, Any], str]:
    """(front matter, body). Bad YAML keeps the whole text as the body rather than losing the note."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError:
        return {}, text
    if not isinstance(meta, dict):
        return {}, text
    return meta, text[match.end():]


def note_provenance(vault: Path, path: Path, meta: dict[str, Any], body: str) -> dict[str, Any]:
    tags = set(_TAG.findall(_CODE.sub("", body)))
    fm_tags = meta.get("tags") or meta.get("tag") or []
    if isinstance(fm_tags, str):
        fm_tags = [t.strip() for t in re.split(r"[,\s]+", fm_tags) if t.strip()]
    tags.update(str(t).lstrip("#") for t in fm_tags)
    return {
        "importer": "obsidian", "vault": str(vault), "file": path.relative_to(vault).as_posix(), "title": path.stem,
        "links": sorted(set(m.strip() for m in _WIKILINK.findall(body))), "tags": sorted(tags),
        # YAML dates become date objects: keep JSON-friendly strings.
        "front_matter": {str(k): v if isinstance(v, (str, int, float, bool, list, type(None))) else str(v)
                         for k, v in meta.items()},
    }


def import_vault(context, path: Path, progress: Progress | None = None) -> ImportReport:
    vault = Path(path)
    if not vault.exists():
        raise UserError(f"Folder not found: {vault}")
    if not vault.is_dir():
        raise UserError(f"{vault} is a file; give the vault's folder (the one holding your .md notes).")
    root = vault.resolve()
    notes = sorted(p for p in vault.rglob("*.md")
                   if not any(part.startswith(".") for part in p.relative_to(vault).parts))
    if not notes:
        raise UserError(f"No Markdown notes (*.md) in {vault}; is this the vault folder?")
    report = ImportReport()
    items: list[NewMemory] = []
    max_bytes = context.settings.max_text_bytes
    for note in notes:
        rel = note.relative_to(vault).as_posix()
        if not note.resolve().is_relative_to(root):
            report.skipped.append(f"{rel}: links outside the vault")
            continue
        size = note.stat().st_size
        if size > MAX_NOTE_BYTES:
            report.skipped.append(f"{rel}: {size:,} bytes, over the {MAX_NOTE_BYTES:,}-byte note limit")
            continue
        raw = note.read_bytes()
        if b"\x00" in raw:
            report.skipped.append(f"{rel}: binary file")
            continue
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            report.skipped.append(f"{rel}: not UTF-8")
            continue
        meta, body = parse_note(text)
        if not body.strip():
            report.skipped.append(f"{rel}: empty note")
            continue
        provenance = note_provenance(vault, note, meta, body)
        pieces = split_long(f"{note.stem}\n\n{body.strip()}", max_bytes)
        for index, piece in enumerate(pieces):
            prov = dict(provenance, part=index + 1, parts=len(pieces)) if len(pieces) > 1 else provenance
            items.append(NewMemory(piece, kind=MemoryKind.FACT, source=Source.DOCUMENT, provenance=prov))
    store(context, items, report, reason=f"imported from Obsidian vault {vault.name}", progress=progress)
    return report
