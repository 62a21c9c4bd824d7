"""Reviewing memory by hand: links and history, the quarantine, contradictions, and job-run history.

The memory browser (and any other front end) reads and changes these through this service; every change goes
through MemoryManager's ledgered `change`, so it is recorded with its reason and can be reversed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from storage.enums import EventOp, LinkKind, MemoryStatus
from storage.errors import UserError
from storage.memory_store import get_row
from storage.models import LINK_KINDS, JobRun, MemoryEvent, MemoryLink
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
    def __init__(self, db: Database, memory: MemoryManager):
        self.db = db
        self.memory = memory

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

    def resolve_conflict(self, link_id: int, keep_id: int,
                         reason: str = "conflict resolved by the user") -> MemoryRecord:
        """Keep one side; the other is superseded (invalidated, never overwritten) and linked to the winner."""
        with self.db.session() as s:
            link = s.get(MemoryLink, link_id)
            if link is None or link.kind != LinkKind.CONTRADICTS:
                raise UserError(f"No open conflict with id {link_id}; refresh the Conflicts tab.")
            if keep_id not in (link.src_id, link.dst_id):
                raise UserError(f"Memory {keep_id} is not part of conflict {link_id}; keep one of its two memories.")
            drop_id = link.dst_id if keep_id == link.src_id else link.src_id
        now = utcnow()
        dropped = self.memory.change(drop_id, EventOp.SUPERSEDE, reason, status=MemoryStatus.SUPERSEDED,
                                     valid_to=now, expired_at=now, expect=_OPEN_STATUSES)
        self.link(keep_id, drop_id, LinkKind.SUPERSEDES, reason=reason)
        return dropped

    def dismiss_conflict(self, link_id: int, reason: str = "both are true; not a contradiction") -> None:
        """Both memories stand (e.g. true at different times): the link becomes `related`, recorded in the ledger."""
        with self.db.session() as s:
            link = s.get(MemoryLink, link_id)
            if link is None or link.kind != LinkKind.CONTRADICTS:
                raise UserError(f"No open conflict with id {link_id}; refresh the Conflicts tab.")
            link.kind = LinkKind.RELATED
            s.add(MemoryEvent(memory_id=link.src_id, op=EventOp.LINK, reason=reason, source="user",
                              payload={"link_id": link.id, "before": LinkKind.CONTRADICTS, "after": LinkKind.RELATED}))

    # -- jobs --------------------------------------------------------------------------------------
    def job_runs(self, limit: int = 100) -> list[JobRunInfo]:
        with self.db.session() as s:
            rows = s.scalars(select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit))
            return [JobRunInfo(r.id, r.job, r.status, r.started_at, r.finished_at, dict(r.counts or {}), r.error)
                    for r in rows]
