"""What every importer shares: reading files safely, writing in linked batches, and the report it returns."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from plugins.api import Candidate, PluginContext
from storage.enums import LinkKind, MemoryStatus, Source
from storage.errors import UserError
from storage.json_files import read_json_file as read_json
from storage.records import MemoryRecord, NewMemory

MAX_IMPORT_FILE_BYTES = 64 * 1024 * 1024  # a chat export can be big; more than this is not one
MAX_NOTE_BYTES = 1024 * 1024
BATCH = 128
PAGE = 500
Progress = Callable[[int, int], None]  # (done, total)
# Statuses of an earlier import's memories that a re-import compares with (archived and deleted ones are history).
LIVE_IMPORTED = (MemoryStatus.ACTIVE, MemoryStatus.QUARANTINED, MemoryStatus.SUPERSEDED)
_SCORE = re.compile(r"classifier score [\d.]+ >= [\d.]+ for trust [\d.]+")


@dataclass
class ImportReport:
    """What an import did: every item is stored, quarantined, a duplicate, rejected or skipped (with why)."""

    importer: str = ""
    stored: int = 0  # new active memories
    quarantined: int = 0  # new memories held back by a check
    duplicates: int = 0  # items already stored (by this import or an earlier one): not stored again
    rejected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)  # why memories were quarantined
    skipped: list[str] = field(default_factory=list)  # "what: why", one per file or conversation
    skipped_counts: Counter[str] = field(default_factory=Counter)  # why -> how many things were skipped
    attachments: list[str] = field(default_factory=list)  # embeds and attachments named but not imported
    warnings: list[str] = field(default_factory=list)  # "what: problem" for things imported despite a problem
    counts: Counter[str] = field(default_factory=Counter)  # the importer's own units: notes, conversations...
    ids: list[int] = field(default_factory=list)  # the new memories (stored and quarantined)
    quarantined_ids: list[int] = field(default_factory=list)
    unit: str = "items"  # what a group is: notes, conversations
    held_groups: set[str] = field(default_factory=set)  # the notes or conversations with a quarantined memory

    def skip(self, what: str, why: str) -> None:
        self.skipped.append(f"{what}: {why}")
        self.skipped_counts[why] += 1

    def skip_part(self, why: str, count: int = 1) -> None:
        """A part of a file skipped (a tool call, an image): counted, not listed one by one."""
        self.skipped_counts[why] += count

    def top_reasons(self, n: int = 5) -> list[tuple[str, int]]:
        return self.reasons.most_common(n)

    def to_json(self) -> dict[str, Any]:
        return {"importer": self.importer, "stored": self.stored, "quarantined": self.quarantined,
                "duplicates": self.duplicates, "rejected": self.rejected,
                "quarantine_reasons": [{"reason": r, "count": n} for r, n in self.top_reasons()],
                "skipped": self.skipped, "skipped_by_reason": dict(self.skipped_counts),
                "attachments": self.attachments, "warnings": self.warnings, "counts": dict(self.counts),
                f"{self.unit}_quarantined": len(self.held_groups), "ids": self.ids,
                "quarantined_ids": self.quarantined_ids}

    def summary(self) -> list[str]:
        """The report as short lines for a person (the CLI prints them; the GUI shows them)."""
        units = ", ".join(f"{n} {unit}" for unit, n in self.counts.items() if n)
        lines = [f"Stored {self.stored} memories, quarantined {self.quarantined}, {self.duplicates} duplicates"
                 + (f", {self.rejected} rejected" if self.rejected else "") + (f" ({units})" if units else "") + "."]
        if self.held_groups:
            lines.append(f"{len(self.held_groups)} {self.unit} hold a quarantined memory; review them with "
                         "`secondme memories list --status quarantined`.")
        if self.reasons:
            lines.append("Quarantined because: " + "; ".join(f"{r} ({n})" for r, n in self.top_reasons()))
        if self.skipped_counts:
            lines.append("Skipped: " + ", ".join(f"{n} {why}" for why, n in self.skipped_counts.most_common()))
        lines.extend(f"warning: {w}" for w in self.warnings[:10])
        if len(self.warnings) > 10:
            lines.append(f"... and {len(self.warnings) - 10} more warnings")
        if self.attachments:
            more = f" and {len(self.attachments) - 10} more" if len(self.attachments) > 10 else ""
            lines.append(f"Not imported (attachments and embeds): {', '.join(self.attachments[:10])}{more}")
        return lines


@dataclass(frozen=True)
class Planned:
    """One memory an importer means to store, with the links it should carry once the others have ids.

    `key` names it within the import (and across re-imports, with `content_hash`); `after` is the key of the memory
    it continues (a `continues` link), `related` the keys it links to as `related` (wikilinks), `group` the unit the
    report counts (a note, a conversation)."""

    item: NewMemory
    key: str
    group: str = ""
    after: str | None = None
    related: tuple[str, ...] = ()


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="replace")).hexdigest()[:32]


def read_json_file(path: Path, what: str) -> Any:
    return read_json(path, what, MAX_IMPORT_FILE_BYTES, "import limit")


@contextmanager
def malformed_as_user_error(path: Path, what: str) -> Iterator[None]:
    """Parsing a file of unexpected shape (a list where an object belongs, a number for a date...) ends in one
    clear line, before anything is stored, instead of a traceback from deep inside the parser."""
    try:
        yield
    except UserError:
        raise
    except (AttributeError, TypeError, KeyError, IndexError, ValueError, OverflowError, OSError,
            RecursionError) as exc:
        message = " ".join(str(exc).split())[:80]
        raise UserError(f"{path} is not a well-formed {what} ({type(exc).__name__}: {message}); "
                        "check that it is the right file.") from None


def split_long(text: str, max_bytes: int) -> list[str]:
    """Paragraph-sized pieces under the memory size limit, so a long text is kept whole across several memories."""
    if len(text.encode("utf-8")) <= max_bytes:
        return [text]
    pieces, current = [], ""
    for para in text.split("\n\n"):
        while len(para.encode("utf-8")) > max_bytes:  # one enormous paragraph: cut on characters
            cut = max_bytes // 4
            pieces.append(para[:cut])
            para = para[cut:]
        candidate = f"{current}\n\n{para}" if current else para
        if len(candidate.encode("utf-8")) > max_bytes:
            pieces.append(current)
            current = para
        else:
            current = candidate
    if current.strip():
        pieces.append(current)
    return [p for p in pieces if p.strip()]


def split_chars(text: str, max_chars: int) -> list[str]:
    """Pieces of at most max_chars, cut at a paragraph, line, sentence or word end where one is near."""
    pieces: list[str] = []
    while len(text) > max_chars:
        window = text[:max_chars]
        cut = max_chars
        for boundary in ("\n\n", "\n", ". ", " "):
            at = window.rfind(boundary)
            if at >= max_chars // 2:
                cut = at + len(boundary)
                break
        pieces.append(text[:cut])
        text = text[cut:]
    pieces.append(text)
    return [p.strip() for p in pieces if p.strip()]


def imported_records(context: PluginContext, belongs: Callable[[dict[str, Any]], bool]) -> list[MemoryRecord]:
    """The live memories an earlier import stored whose provenance `belongs` (oldest first)."""
    out: list[MemoryRecord] = []
    offset = 0
    while True:
        page = context.memory.list(status=None, limit=PAGE, offset=offset)
        if not page:
            break
        out.extend(m for m in page if m.status in LIVE_IMPORTED and belongs(m.provenance or {}))
        offset += PAGE
    return sorted(out, key=lambda m: m.id)


def newest_id(context: PluginContext) -> int:
    newest = context.memory.list(status=None, limit=1)
    return max((m.id for m in newest), default=0)


def store_planned(context: PluginContext, planned: list[Planned], report: ImportReport, reason: str,
                  progress: Progress | None = None, known: dict[str, MemoryRecord] | None = None
                  ) -> dict[str, MemoryRecord | None]:
    """Store planned memories in batches, each its own transaction, so a failure late in a big import keeps what
    came before. A memory is written once the ones it links to have ids: rounds of ready items, in order (a
    cycle of wikilinks is broken by leaving its last links out). `known` holds memories already stored under
    their keys (unchanged notes of a re-import), for links. Fills the report; returns key -> memory."""
    done: dict[str, MemoryRecord | None] = dict(known or {})
    keys = {p.key for p in planned}
    pending = list(planned)
    before = newest_id(context)
    seen: set[int] = set()
    total, written = len(planned), 0
    quarantined: list[MemoryRecord] = []
    while pending:
        ready = [p for p in pending if (p.after is None or p.after in done or p.after not in keys)
                 and all(r in done or r not in keys for r in p.related)]
        if not ready:  # only a cycle of wikilinks is left: take the first whose own chain is ready
            ready = [next((p for p in pending if p.after is None or p.after in done or p.after not in keys),
                          pending[0])]
        taken = {id(p) for p in ready}
        pending = [p for p in pending if id(p) not in taken]
        for start in range(0, len(ready), BATCH):
            chunk = ready[start:start + BATCH]
            if progress is not None:
                progress(written, total)
            items = [_with_links(p, done) for p in chunk]
            records = context.memory.remember_many(items, reason=reason)
            for p, record in zip(chunk, records):
                done[p.key] = record
                _count(record, before, seen, report, quarantined, p.group)
            written += len(chunk)
    if progress is not None:
        progress(total, total)
    for why in quarantine_reasons(context, quarantined):
        report.reasons.update(why)
    return done


def _with_links(p: Planned, done: dict[str, MemoryRecord | None]) -> NewMemory:
    links: list[tuple[LinkKind, int]] = []
    if p.after is not None and (prev := done.get(p.after)) is not None:
        links.append((LinkKind.CONTINUES, prev.id))
    for key in p.related:
        target = done.get(key)
        if target is not None and all(target.id != dst for _, dst in links):
            links.append((LinkKind.RELATED, target.id))
    return replace(p.item, links=tuple(links)) if links else p.item


def _count(record: MemoryRecord | None, before: int, seen: set[int], report: ImportReport,
           quarantined: list[MemoryRecord], group: str) -> None:
    if record is None:
        report.rejected += 1
    elif record.id <= before or record.id in seen:
        report.duplicates += 1
    elif record.status == MemoryStatus.QUARANTINED:
        report.quarantined += 1
        report.quarantined_ids.append(record.id)
        report.ids.append(record.id)
        quarantined.append(record)
        if group:
            report.held_groups.add(group)
    else:
        report.stored += 1
        report.ids.append(record.id)
    if record is not None:
        seen.add(record.id)


def quarantine_reasons(context: PluginContext, records: list[MemoryRecord]) -> list[list[str]]:
    """Why each memory was quarantined, as the report groups it. The write path keeps the full reason in the
    memory's ledger; the plugin view of the memory has no ledger, so the guard's verdict (deterministic) is asked
    again. A quarantine the guard does not repeat came from another plugin's check."""
    if not records:
        return []
    if "poisoning-guard" in (getattr(context.settings, "disabled_plugins", None) or ()):
        return [["held by a plugin check"] for _ in records]
    from plugins.builtin.poisoning import PoisoningGuard

    guard = PoisoningGuard()
    if callable(getattr(context, "embed", None)):  # else the guard loads the default embedder itself
        guard.startup(context)
    out = []
    for m in records:
        verdict = guard.check_memory(Candidate(text=m.text, kind=m.kind, source=Source.parse(m.source),
                                               trust=m.trust, provenance=dict(m.provenance or {})), {})
        out.append(sorted({_SCORE.sub("classifier score over the threshold", part)
                           for part in verdict.reason.split("; ") if part}) or ["held by another plugin check"])
    return out
