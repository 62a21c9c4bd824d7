"""The ledger: every operation on a memory, with its reason and source, and how to reverse it.

Each event stores the memory's mutable fields before and after the change (`snapshot`). Events written by one
user-visible operation (one `remember`, one extracted turn, one `forget_session`) share an `operation_id`, so
`undo()` reverses exactly that operation. The ledger is append-only: an undo is recorded as new `undo` events
naming the operation it reversed, never by editing or removing the old ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from assistant.memory.text_rules import text_hash
from storage.enums import EventOp, LinkKind, MemoryStatus
from storage.errors import NotFound, UserError
from storage.keyword_index import KeywordIndex
from storage.memory_store import get_row
from storage.models import Memory, MemoryEvent, MemoryLink, VectorOutbox
from storage.timeutil import utcnow

if TYPE_CHECKING:
    from storage.db import Database

# Ops whose `before` snapshot is all that is needed to reverse them.
_RESTORE_BEFORE = {"supersede", "duplicate", "merge", "quarantine", "release", "forget", "restore", "pin",
                   "unpin", "update"}
# Ops that changed nothing stored (a rejection, a note about extraction): nothing to reverse.
_INFORMATIONAL = {"reject", "extract", "extract_failed", "link"}


def new_operation_id() -> str:
    return uuid.uuid4().hex


def snapshot(m: Memory) -> dict[str, Any]:
    """The mutable fields of a memory, so an operation on it can be reversed."""
    return {
        "status": m.status, "pinned": m.pinned, "text": m.text, "importance": m.importance,
        "strength": m.strength,
        "valid_to": m.valid_to.isoformat() if m.valid_to else None,
        "expired_at": m.expired_at.isoformat() if m.expired_at else None,
    }


def scrub(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload without any text, for a memory deleted for good."""
    return {key: scrub(value) if isinstance(value, dict) else value
            for key, value in payload.items() if key not in ("text", "preview")}


def record(s: Session, op: str, reason: str, *, operation_id: str, memory_id: int | None = None,
           source: str = "user", session_id: int | None = None, before: dict[str, Any] | None = None,
           after: dict[str, Any] | None = None, **extra: Any) -> MemoryEvent:
    """Append one event to the ledger in the caller's transaction."""
    payload: dict[str, Any] = dict(extra)
    if before is not None:
        payload["before"] = before
    if after is not None:
        payload["after"] = after
    event = MemoryEvent(memory_id=memory_id, op=op, reason=reason, source=source, payload=payload,
                        operation_id=operation_id, session_id=session_id)
    s.add(event)
    return event


def purge_row(s: Session, m: Memory, reason: str, *, operation_id: str, source: str = "user",
              session_id: int | None = None) -> None:
    """Delete for good inside the caller's transaction: the text leaves SQLite and FTS5 now, Chroma via the outbox.

    A tombstone row keeps the ledger whole; the ledger keeps that the memory existed, never what it said.
    """
    if m.status == MemoryStatus.DELETED:
        return
    m.text, m.text_hash, m.status, m.expired_at, m.updated_at = "", "", MemoryStatus.DELETED, utcnow(), utcnow()
    m.provenance = {}
    for event in s.scalars(select(MemoryEvent).where(MemoryEvent.memory_id == m.id)):
        event.payload = scrub(event.payload)
    KeywordIndex.remove(s, [m.id])
    KeywordIndex.purge_deleted_terms(s)
    s.merge(VectorOutbox(memory_id=m.id, op="delete"))
    record(s, EventOp.DELETE, reason, operation_id=operation_id, memory_id=m.id, source=source, session_id=session_id,
           after={"status": MemoryStatus.DELETED})


def apply_snapshot(s: Session, m: Memory, snap: dict[str, Any]) -> None:
    """Put a memory's mutable fields back as a snapshot had them (re-indexing if its text changes)."""
    from datetime import datetime

    m.status = snap.get("status", m.status)
    m.pinned = snap.get("pinned", m.pinned)
    m.importance = snap.get("importance", m.importance)
    m.strength = snap.get("strength", m.strength)
    for name in ("valid_to", "expired_at"):
        if name in snap:
            setattr(m, name, datetime.fromisoformat(snap[name]) if snap[name] else None)
    if "text" in snap and snap["text"] and snap["text"] != m.text:
        m.text, m.text_hash = snap["text"], text_hash(snap["text"])
        KeywordIndex.add(s, m.id, m.text)
        s.merge(VectorOutbox(memory_id=m.id, op="upsert"))
    m.updated_at = utcnow()


def active_superseders(s: Session, memory_id: int, excluding: AbstractSet[int] = frozenset()) -> list[int]:
    """Active memories that still supersede this one (other than those being removed)."""
    rows = s.execute(
        select(MemoryLink.src_id).join(Memory, Memory.id == MemoryLink.src_id)
        .where(MemoryLink.kind == LinkKind.SUPERSEDES, MemoryLink.dst_id == memory_id,
               Memory.status == MemoryStatus.ACTIVE)
    )
    return [r[0] for r in rows if r[0] not in excluding]


def _restore_link(s: Session, payload: dict[str, Any]) -> None:
    """Put a link back as a `resolve` event found it (kind and ends)."""
    link = s.get(MemoryLink, payload.get("link_id"))
    before = payload.get("link_before") or {}
    if link is not None and before:
        link.kind, link.src_id, link.dst_id = before["kind"], before["src_id"], before["dst_id"]


class Ledger:
    """Reads the ledger and replays it backwards: undo, forget a session, history of a memory."""

    def __init__(self, db: Database, sync_vectors: Callable[[], int]):
        self.db = db
        # Replays the vector outbox after an undo or purge (IndexKeeper.sync_vectors).
        self.sync_vectors = sync_vectors

    # -- undo ----------------------------------------------------------------------------------
    def last_operation(self, s: Session) -> str | None:
        # Skip operations already undone, and the undo operations themselves (their purge events included).
        undone: set[str | None] = set()
        for op_id, payload in s.execute(select(MemoryEvent.operation_id, MemoryEvent.payload)
                                        .where(MemoryEvent.op == EventOp.UNDO)):
            undone.update((payload.get("undoes"), op_id))
        q = (select(MemoryEvent.operation_id).where(MemoryEvent.op != "undo", MemoryEvent.operation_id.is_not(None))
             .order_by(MemoryEvent.id.desc()))
        for op_id in s.scalars(q):
            if op_id not in undone:
                return op_id
        return None

    def undo(self) -> dict[str, Any]:
        """Reverse the newest operation not yet undone. Returns what was reversed."""
        with self.db.session() as s:
            op_id = self.last_operation(s)
            if op_id is None:
                raise UserError("Nothing to undo: the ledger holds no operation that can be reversed.")
            events = list(s.scalars(select(MemoryEvent).where(MemoryEvent.operation_id == op_id)
                                    .order_by(MemoryEvent.id.desc())))
            if any(e.op == EventOp.DELETE for e in events):
                raise UserError("The last operation deleted a memory for good; its text is gone, so it cannot be "
                                "undone. Nothing was changed.")
            undo_id = new_operation_id()
            reversed_ops = []
            for e in events:
                if e.op == EventOp.RESOLVE:
                    _restore_link(s, e.payload)
                    record(s, EventOp.UNDO, f"undo of {e.op}: {e.reason}", operation_id=undo_id,
                           memory_id=e.memory_id, session_id=e.session_id, undoes=op_id, event=e.id)
                    reversed_ops.append({"event": e.id, "op": e.op, "memory_id": e.memory_id, "change": "reversed"})
                    continue
                if e.op in _INFORMATIONAL or e.memory_id is None:
                    reversed_ops.append({"event": e.id, "op": e.op, "memory_id": e.memory_id, "change": "none"})
                    continue
                m = get_row(s, e.memory_id)
                before = snapshot(m)
                if e.op == EventOp.ADD:
                    purge_row(s, m, f"undo: removed what '{e.reason}' added", operation_id=undo_id,
                              session_id=e.session_id)
                elif e.op in _RESTORE_BEFORE and "before" in e.payload:
                    apply_snapshot(s, m, e.payload["before"])
                    if e.op == EventOp.SUPERSEDE and e.payload.get("superseded_by"):
                        s.query(MemoryLink).filter(MemoryLink.kind == LinkKind.SUPERSEDES, MemoryLink.dst_id == m.id,
                                                   MemoryLink.src_id == e.payload["superseded_by"]).delete()
                record(s, EventOp.UNDO, f"undo of {e.op}: {e.reason}", operation_id=undo_id, memory_id=m.id,
                       session_id=e.session_id, before=before, after=snapshot(m), undoes=op_id, event=e.id)
                reversed_ops.append({"event": e.id, "op": e.op, "memory_id": m.id, "change": "reversed"})
            if not any(r["change"] == "reversed" for r in reversed_ops):
                # Still mark it undone, so the next undo moves on to the operation before it.
                record(s, EventOp.UNDO, "undo of an operation that changed nothing stored", operation_id=undo_id,
                       undoes=op_id)
        self.sync_vectors()
        return {"operation_id": op_id, "events": reversed_ops}

    # -- forget a conversation -------------------------------------------------------------------
    def forget_session(self, session_id: int, purge: bool = False) -> dict[str, Any]:
        """Take every memory that came from a session out of recall (or delete them with purge=True).

        Facts those memories had superseded come back, unless something else still supersedes them.
        """
        with self.db.session() as s:
            added = set(s.scalars(select(MemoryEvent.memory_id).where(
                MemoryEvent.session_id == session_id, MemoryEvent.op == EventOp.ADD,
                MemoryEvent.memory_id.is_not(None))))
            rows = list(s.scalars(select(Memory).where(
                or_(Memory.session_id == session_id, Memory.id.in_(added)), Memory.status != MemoryStatus.DELETED)))
            if not rows:
                raise NotFound(f"No memories from session {session_id}; nothing to forget.")
            op_id = new_operation_id()
            gone = {m.id for m in rows}
            reason = f"session {session_id} forgotten by the user"
            for m in rows:
                if purge:
                    purge_row(s, m, reason, operation_id=op_id, session_id=session_id)
                elif m.status != MemoryStatus.ARCHIVED:
                    before = snapshot(m)
                    m.status, m.expired_at, m.updated_at = MemoryStatus.ARCHIVED, utcnow(), utcnow()
                    record(s, EventOp.FORGET, reason, operation_id=op_id, memory_id=m.id, session_id=session_id,
                           before=before, after=snapshot(m))
            restored = []
            superseded_ids = set(s.scalars(select(MemoryLink.dst_id).where(
                MemoryLink.kind == LinkKind.SUPERSEDES, MemoryLink.src_id.in_(gone))))
            for old in s.scalars(select(Memory).where(Memory.id.in_(superseded_ids - gone),
                                                      Memory.status == MemoryStatus.SUPERSEDED)):
                if active_superseders(s, old.id, excluding=gone):
                    continue
                before = snapshot(old)
                old.status, old.valid_to, old.expired_at, old.updated_at = MemoryStatus.ACTIVE, None, None, utcnow()
                record(s, EventOp.RESTORE,
                       f"restored: what superseded it came from session {session_id}, now forgotten",
                       operation_id=op_id, memory_id=old.id, session_id=session_id, before=before,
                       after=snapshot(old))
                restored.append(old.id)
        if purge:
            self.sync_vectors()
            self.db.checkpoint()
        return {"session_id": session_id, "operation_id": op_id, "forgotten": sorted(gone),
                "restored": sorted(restored), "purged": purge}

    # -- reading ---------------------------------------------------------------------------------
    def history(self, memory_id: int) -> dict[str, Any]:
        """A memory's ledger and its links: what it superseded, what superseded it, where it came from."""
        with self.db.session() as s:
            m = s.get(Memory, memory_id)
            if m is None:
                raise NotFound(f"No memory with id {memory_id}; list ids with: secondme memories list")
            events = [{"id": e.id, "op": e.op, "reason": e.reason, "source": e.source,
                       "created_at": e.created_at.isoformat(), "operation_id": e.operation_id,
                       "session_id": e.session_id, "payload": e.payload}
                      for e in s.scalars(select(MemoryEvent).where(MemoryEvent.memory_id == memory_id)
                                         .order_by(MemoryEvent.id))]
            links = [{"kind": link.kind, "from": link.src_id, "to": link.dst_id, "score": link.score}
                     for link in s.scalars(select(MemoryLink).where(
                         or_(MemoryLink.src_id == memory_id, MemoryLink.dst_id == memory_id)).order_by(MemoryLink.id))]
            return {"memory_id": memory_id, "status": m.status, "events": events, "links": links}
