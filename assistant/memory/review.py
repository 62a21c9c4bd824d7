"""Reviewing memory by hand: links and history, the quarantine, contradictions, and job-run history.

The memory browser (and any other front end) reads and changes these through this service; every change goes
through MemoryManager's ledgered `change`, so it is recorded with its reason and can be reversed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from assistant.memory import ledger
from assistant.memory.text_rules import clean_text, text_hash
from storage.enums import EventOp, LinkKind, MemoryStatus
from storage.errors import NotFound, UserError
from storage.keyword_index import KeywordIndex
from storage.memory_store import get_row
from storage.models import LINK_KINDS, JobRun, MemoryEvent, MemoryLink, VectorOutbox
from storage.records import MemoryRecord
from storage.timeutil import utcnow

if TYPE_CHECKING:
    from assistant.memory.manager import MemoryManager
    from storage.db import Database


@dataclass(frozen=True)
class LinkInfo:
    """One link seen from a given memory: `outgoing` means this memory is the link's source."""

    id: int
    kind: str
    outgoing: bool
    other: MemoryRecord
    score: float | None
    created_at: datetime


@dataclass(frozen=True)
class Conflict:
    link_id: int
    first: MemoryRecord
    second: MemoryRecord
    created_at: datetime


@dataclass(frozen=True)
class JobRunInfo:
    id: int
    job: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    counts: dict[str, Any]
    error: str | None


# A contradiction only needs a decision while both sides could still be recalled.
_OPEN_STATUSES = (MemoryStatus.ACTIVE, MemoryStatus.QUARANTINED)


class MemoryReview:
    def __init__(self, db: Database, memory: MemoryManager, max_text_bytes: int):
        self.db = db
        self.memory = memory
        self.max_text_bytes = max_text_bytes

    # -- links and history -----------------------------------------------------------------------
    def links(self, memory_id: int) -> list[LinkInfo]:
        self.memory.get(memory_id)  # a clear NotFound for an unknown id
        with self.db.session() as s:
            rows = s.scalars(select(MemoryLink).where(
                or_(MemoryLink.src_id == memory_id, MemoryLink.dst_id == memory_id)).order_by(MemoryLink.id))
            out = []
            for link in rows:
                outgoing = link.src_id == memory_id
                other = get_row(s, link.dst_id if outgoing else link.src_id)
                out.append(LinkInfo(link.id, link.kind, outgoing, MemoryRecord.from_row(other), link.score,
                                    link.created_at))
            return out

    def link(self, src_id: int, dst_id: int, kind: str, reason: str = "linked by the user",
             score: float | None = None) -> int:
        if kind not in LINK_KINDS:
            raise UserError(f"Unknown link kind '{kind}'; use one of: {', '.join(LINK_KINDS)}.")
        if src_id == dst_id:
            raise UserError("A memory cannot be linked to itself; pick two different memories.")
        with self.db.session() as s:
            for memory_id in (src_id, dst_id):
                get_row(s, memory_id)
            link = MemoryLink(src_id=src_id, dst_id=dst_id, kind=kind, score=score)
            s.add(link)
            s.flush()
            s.add(MemoryEvent(memory_id=src_id, op=EventOp.LINK, reason=reason, source="user",
                              payload={"link_id": link.id, "kind": kind, "dst_id": dst_id}))
            return link.id

    # -- quarantine ------------------------------------------------------------------------------
    def quarantined(self, limit: int = 500) -> list[MemoryRecord]:
        return self.memory.list(status=MemoryStatus.QUARANTINED, limit=limit)

    def quarantine(self, memory_id: int, reason: str) -> MemoryRecord:
        return self.memory.change(memory_id, EventOp.QUARANTINE, reason, status=MemoryStatus.QUARANTINED,
                                  expect=(MemoryStatus.ACTIVE,))

    def release(self, memory_id: int, reason: str = "released by the user") -> MemoryRecord:
        """The user vouches for a held-back memory: it becomes active and recallable."""
        return self.memory.change(memory_id, EventOp.RELEASE, reason, status=MemoryStatus.ACTIVE,
                                  expect=(MemoryStatus.QUARANTINED,))

    def reject(self, memory_id: int, reason: str = "rejected by the user") -> MemoryRecord:
        """A held-back memory the user confirms is wrong or hostile is purged, like a delete."""
        record = self.memory.get(memory_id)
        if record.status != MemoryStatus.QUARANTINED:
            raise UserError(f"Memory {memory_id} is {record.status}; only quarantined memories can be rejected.")
        with self.db.session() as s:
            s.add(MemoryEvent(memory_id=memory_id, op=EventOp.REJECT, reason=reason, source="user", payload={}))
        return self.memory.delete(memory_id, reason=reason)

    # -- contradictions --------------------------------------------------------------------------
    def conflicts(self) -> list[Conflict]:
        with self.db.session() as s:
            out = []
            links = s.scalars(select(MemoryLink).where(MemoryLink.kind == LinkKind.CONTRADICTS).order_by(MemoryLink.id))
            for link in links:
                first, second = get_row(s, link.src_id), get_row(s, link.dst_id)
                if first.status in _OPEN_STATUSES and second.status in _OPEN_STATUSES:
                    out.append(Conflict(link.id, MemoryRecord.from_row(first), MemoryRecord.from_row(second),
                                        link.created_at))
            return out

    def resolve_conflict(self, link_id: int, keep_id: int, reason: str = "conflict resolved by the user",
                         text: str | None = None) -> MemoryRecord:
        """Keep one side (its text corrected to `text` when given); the other is superseded (invalidated, never
        overwritten) and the link becomes `supersedes` from the kept one. One ledger operation: `undo` reverses
        it whole. Returns the memory kept."""
        cleaned = clean_text(text, self.max_text_bytes) if text is not None else None
        op_id = ledger.new_operation_id()
        with self.db.session() as s:
            link = self._open_conflict(s, link_id)
            if keep_id not in (link.src_id, link.dst_id):
                raise UserError(f"Memory {keep_id} is not part of conflict {link_id}; keep one of its two memories.")
            kept, dropped = get_row(s, keep_id), get_row(s, link.dst_id if keep_id == link.src_id else link.src_id)
            now = utcnow()
            if cleaned is not None and cleaned != kept.text:
                before = ledger.snapshot(kept)
                kept.text, kept.text_hash, kept.updated_at = cleaned, text_hash(cleaned), now
                KeywordIndex.add(s, kept.id, kept.text)
                s.merge(VectorOutbox(memory_id=kept.id, op="upsert"))
                ledger.record(s, EventOp.UPDATE, f"{reason}: corrected", operation_id=op_id, memory_id=kept.id,
                              before=before, after=ledger.snapshot(kept))
            before = ledger.snapshot(dropped)
            dropped.status, dropped.valid_to, dropped.expired_at, dropped.updated_at = (
                MemoryStatus.SUPERSEDED, now, now, now)
            ledger.record(s, EventOp.SUPERSEDE, f"{reason}: memory {kept.id} kept", operation_id=op_id,
                          memory_id=dropped.id, before=before, after=ledger.snapshot(dropped), superseded_by=kept.id)
            self._relink(s, link, LinkKind.SUPERSEDES, kept.id, dropped.id, reason, op_id)
            record = MemoryRecord.from_row(kept)
        self.memory.sync_vector_index()
        return record

    def dismiss_conflict(self, link_id: int, reason: str = "both are true; not a contradiction") -> None:
        """Both memories stand (e.g. true at different times): the link becomes `related`. Undoable."""
        with self.db.session() as s:
            link = self._open_conflict(s, link_id)
            self._relink(s, link, LinkKind.RELATED, link.src_id, link.dst_id, reason, ledger.new_operation_id())

    @staticmethod
    def _open_conflict(s: Session, link_id: int) -> MemoryLink:
        link = s.get(MemoryLink, link_id)
        if link is None or link.kind != LinkKind.CONTRADICTS:
            raise NotFound(f"No open conflict with id {link_id}; list them with: secondme memories conflicts")
        return link

    @staticmethod
    def _relink(s: Session, link: MemoryLink, kind: LinkKind, src: int, dst: int, reason: str, op_id: str) -> None:
        before = {"kind": link.kind, "src_id": link.src_id, "dst_id": link.dst_id}
        link.kind, link.src_id, link.dst_id = kind, src, dst
        ledger.record(s, EventOp.RESOLVE, reason, operation_id=op_id, memory_id=src, link_id=link.id,
                      link_before=before, link_after={"kind": kind, "src_id": src, "dst_id": dst})

    # -- jobs --------------------------------------------------------------------------------------
    def job_runs(self, limit: int = 100) -> list[JobRunInfo]:
        with self.db.session() as s:
            rows = s.scalars(select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit))
            return [JobRunInfo(r.id, r.job, r.status, r.started_at, r.finished_at, dict(r.counts or {}), r.error)
                    for r in rows]
