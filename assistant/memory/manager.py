"""MemoryManager: the one write path and the one recall path every front end uses."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from sqlalchemy import func, select

from assistant.memory.recall import DEFAULT_STATUSES, Recaller
from assistant.memory.records import MemoryRecord, RecallHit
from assistant.memory.text_rules import clean_text, text_hash
from storage.errors import NotFound, UserError
from storage.keyword_index import KeywordIndex
from storage.models import MEMORY_KINDS, MEMORY_STATUSES, SOURCES, Memory, MemoryEvent, VectorOutbox
from storage.timeutil import as_utc, utcnow

if TYPE_CHECKING:
    from assistant.app import App

# Trust by source channel: what the user says outranks what a document or another app claims.
DEFAULT_TRUST = {"user": 1.0, "assistant": 0.7, "document": 0.6, "plugin": 0.5, "api": 0.5}


def _snapshot(m: Memory) -> dict[str, Any]:
    """The mutable fields of a memory, for the ledger (so an operation can be reversed)."""
    return {
        "status": m.status, "pinned": m.pinned, "text": m.text, "importance": m.importance,
        "valid_to": m.valid_to.isoformat() if m.valid_to else None,
        "expired_at": m.expired_at.isoformat() if m.expired_at else None,
    }


def _scrub(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload without any text, for a memory deleted for good."""
    return {key: _scrub(value) if isinstance(value, dict) else value
            for key, value in payload.items() if key != "text"}


class MemoryManager:
    def __init__(self, app: "App"):
        self.app = app
        self.db = app.db
        self.settings = app.settings
        self.recaller = Recaller(app)

    # -- write path ------------------------------------------------------------------------------
    def remember(
        self,
        text: str,
        *,
        kind: str = "fact",
        source: str = "user",
        at: datetime | None = None,
        session_id: int | None = None,
        importance: float = 0.5,
        trust: float | None = None,
        provenance: dict[str, Any] | None = None,
        reason: str = "remembered",
    ) -> MemoryRecord:
        return self.remember_many(
            [dict(text=text, kind=kind, source=source, at=at, session_id=session_id, importance=importance,
                  trust=trust, provenance=provenance)],
            reason=reason,
        )[0]

    def record_turn(self, session_id: int, user_text: str, assistant_text: str, message_ids: Sequence[int],
                    at: datetime | None = None) -> MemoryRecord:
        """Keep one chat round verbatim as an `episode`. Never depends on a language model succeeding."""
        body = f"User: {user_text}\nAssistant: {assistant_text}"
        return self.remember(body, kind="episode", source="user", at=at, session_id=session_id,
                             provenance={"message_ids": list(message_ids)}, reason="chat turn")

    def remember_many(self, items: Sequence[dict[str, Any]], reason: str = "remembered") -> list[MemoryRecord]:
        """Store several memories in one transaction, then index them. Each item takes remember()'s arguments."""
        rows = [self._new_row(**item) for item in items]
        vectors = self.app.embedder.embed([r.text for r in rows])
        with self.db.session() as s:
            s.add_all(rows)
            s.flush()
            for row in rows:
                KeywordIndex.add(s, row.id, row.text)
                s.add(MemoryEvent(memory_id=row.id, op="add", reason=reason, source=row.source,
                                  payload={"after": _snapshot(row)}))
                s.add(VectorOutbox(memory_id=row.id, op="upsert"))
        self.app.vector_index.upsert([r.id for r in rows], vectors)
        self._clear_outbox([r.id for r in rows])
        return [MemoryRecord.from_row(r) for r in rows]

    def _new_row(self, text: str, kind: str = "fact", source: str = "user", at: datetime | None = None,
                 session_id: int | None = None, importance: float = 0.5, trust: float | None = None,
                 provenance: dict[str, Any] | None = None) -> Memory:
        if kind not in MEMORY_KINDS:
            raise UserError(f"Unknown memory kind '{kind}'; use one of: {', '.join(MEMORY_KINDS)}.")
        if source not in SOURCES:
            raise UserError(f"Unknown source '{source}'; use one of: {', '.join(SOURCES)}.")
        if not 0.0 <= importance <= 1.0:
            raise UserError("Importance must be between 0 and 1.")
        cleaned = clean_text(text, self.settings.max_text_bytes)
        now = utcnow()
        return Memory(
            kind=kind, text=cleaned, text_hash=text_hash(cleaned), source=source,
            trust=DEFAULT_TRUST[source] if trust is None else trust, importance=importance,
            session_id=session_id, provenance=provenance or {},
            valid_from=as_utc(at) if at else now, recorded_at=now, updated_at=now,
            embedding_model=self.app.settings.embedder,
        )

    # -- recall ----------------------------------------------------------------------------------
    def recall(self, query: str, k: int | None = None, statuses: Sequence[str] = DEFAULT_STATUSES,
               kinds: Sequence[str] | None = None) -> list[RecallHit]:
        """The memories that best answer `query` (see assistant.memory.recall for how)."""
        self.sync_vector_index()
        return self.recaller.recall(query, k=k, statuses=statuses, kinds=kinds)

    def reinforce(self, memory_ids: Iterable[int]) -> None:
        """A recalled memory that was used gets stronger: spaced repetition grows its stability."""
        from assistant.jobs.retention import reinforced_strength

        now = utcnow()
        with self.db.session() as s:
            for m in s.scalars(select(Memory).where(Memory.id.in_(list(memory_ids)))):
                m.strength = reinforced_strength(m.strength, m.last_recalled_at, now,
                                                 self.settings.reinforce_min_gap_hours)
                m.recall_count += 1
                m.last_recalled_at = now

    # -- reading ---------------------------------------------------------------------------------
    def get(self, memory_id: int) -> MemoryRecord:
        with self.db.session() as s:
            return MemoryRecord.from_row(self._row(s, memory_id))

    def list(self, kind: str | None = None, status: str | None = "active", limit: int = 50,
             offset: int = 0) -> list[MemoryRecord]:
        with self.db.session() as s:
            q = select(Memory).order_by(Memory.recorded_at.desc(), Memory.id.desc()).limit(limit).offset(offset)
            if kind:
                q = q.where(Memory.kind == kind)
            if status:
                if status not in MEMORY_STATUSES:
                    raise UserError(f"Unknown status '{status}'; use one of: {', '.join(MEMORY_STATUSES)}.")
                q = q.where(Memory.status == status)
            return [MemoryRecord.from_row(m) for m in s.scalars(q)]

    def count(self, status: str | None = None) -> int:
        with self.db.session() as s:
            q = select(func.count(Memory.id))
            if status:
                q = q.where(Memory.status == status)
            return s.scalar(q) or 0

    def events(self, memory_id: int) -> list[dict[str, Any]]:
        with self.db.session() as s:
            self._row(s, memory_id)
            rows = s.scalars(select(MemoryEvent).where(MemoryEvent.memory_id == memory_id).order_by(MemoryEvent.id))
            return [{"id": e.id, "op": e.op, "reason": e.reason, "source": e.source,
                     "created_at": e.created_at.isoformat(), "payload": e.payload} for e in rows]

    # -- user operations -------------------------------------------------------------------------
    def pin(self, memory_id: int, pinned: bool = True) -> MemoryRecord:
        return self._change(memory_id, "pin" if pinned else "unpin", "pinned by the user" if pinned else "unpinned",
                            pinned=pinned)

    def forget(self, memory_id: int, reason: str = "forgotten by the user") -> MemoryRecord:
        """Archive: out of default recall, still listed and restorable."""
        return self._change(memory_id, "forget", reason, status="archived", expect=("active", "superseded"))

    def restore(self, memory_id: int, reason: str = "restored by the user") -> MemoryRecord:
        return self._change(memory_id, "restore", reason, status="active", expect=("archived",))

    def update_text(self, memory_id: int, text: str, reason: str = "edited by the user") -> MemoryRecord:
        cleaned = clean_text(text, self.settings.max_text_bytes)
        record = self._change(memory_id, "update", reason, text=cleaned, text_hash=text_hash(cleaned),
                              reindex=True)
        self.sync_vector_index()
        return record

    def delete(self, memory_id: int, reason: str = "deleted by the user") -> MemoryRecord:
        """Purge for good: the text leaves SQLite, FTS5 and Chroma; a tombstone row keeps the ledger whole."""
        with self.db.session() as s:
            m = self._row(s, memory_id)
            if m.status == "deleted":
                return MemoryRecord.from_row(m)
            m.text, m.text_hash, m.status, m.expired_at, m.updated_at = "", "", "deleted", utcnow(), utcnow()
            m.provenance = {}
            # The ledger keeps that the memory existed and was deleted, never what it said.
            for event in s.scalars(select(MemoryEvent).where(MemoryEvent.memory_id == m.id)):
                event.payload = _scrub(event.payload)
            KeywordIndex.remove(s, [m.id])
            KeywordIndex.purge_deleted_terms(s)
            s.merge(VectorOutbox(memory_id=m.id, op="delete"))
            s.add(MemoryEvent(memory_id=m.id, op="delete", reason=reason, source="user",
                              payload={"after": {"status": "deleted"}}))
            record = MemoryRecord.from_row(m)
        self.sync_vector_index()
        self.db.checkpoint()
        return record

    def _change(self, memory_id: int, op: str, reason: str, expect: Sequence[str] | None = None,
                reindex: bool = False, **fields: Any) -> MemoryRecord:
        with self.db.session() as s:
            m = self._row(s, memory_id)
            if m.status == "deleted":
                raise UserError(f"Memory {memory_id} was deleted for good; nothing is left to change.")
            if expect and m.status not in expect:
                raise UserError(f"Memory {memory_id} is {m.status}; this works only on {' or '.join(expect)} memories.")
            before = _snapshot(m)
            for name, value in fields.items():
                setattr(m, name, value)
            now = utcnow()
            m.updated_at = now
            if fields.get("status") == "archived":
                m.expired_at = now
            elif fields.get("status") == "active":
                m.expired_at = None
            if reindex:
                KeywordIndex.add(s, m.id, m.text)
                s.merge(VectorOutbox(memory_id=m.id, op="upsert"))
            s.add(MemoryEvent(memory_id=m.id, op=op, reason=reason, source="user",
                              payload={"before": before, "after": _snapshot(m)}))
            return MemoryRecord.from_row(m)

    @staticmethod
    def _row(s, memory_id: int) -> Memory:
        m = s.get(Memory, memory_id)
        if m is None:
            raise NotFound(f"No memory with id {memory_id}; list ids with: secondme memories list")
        return m

    # -- index upkeep ----------------------------------------------------------------------------
    def sync_vector_index(self) -> int:
        """Replay vector writes a crash left pending. Cheap when there are none."""
        with self.db.session() as s:
            pending = list(s.scalars(select(VectorOutbox)))
            if not pending:
                return 0
            upserts = {p.memory_id for p in pending if p.op == "upsert"}
            rows = {m.id: m.text for m in s.scalars(select(Memory).where(Memory.id.in_(upserts), Memory.status != "deleted"))}
        deletes = [p.memory_id for p in pending if p.memory_id not in rows]
        ids = list(rows)
        if ids:
            self.app.vector_index.upsert(ids, self.app.embedder.embed([rows[i] for i in ids]))
        self.app.vector_index.delete(deletes)
        self._clear_outbox([p.memory_id for p in pending])
        return len(pending)

    def _clear_outbox(self, ids: Sequence[int]) -> None:
        with self.db.session() as s:
            s.query(VectorOutbox).filter(VectorOutbox.memory_id.in_(list(ids))).delete(synchronize_session=False)

    def index_report(self) -> dict[str, Any]:
        """Compare the ids in SQLite with both indexes: what each one misses or has in excess."""
        with self.db.session() as s:
            truth = set(s.scalars(select(Memory.id).where(Memory.status != "deleted")))
            fts = KeywordIndex.ids(s)
            pending = s.scalar(select(func.count()).select_from(VectorOutbox)) or 0
        vec = self.app.vector_index.ids()
        return {
            "memories": len(truth), "pending_vector_writes": pending,
            "fts_missing": sorted(truth - fts), "fts_extra": sorted(fts - truth),
            "vector_missing": sorted(truth - vec), "vector_extra": sorted(vec - truth),
        }

    def repair_indexes(self) -> dict[str, int]:
        """Fix only what differs (cheaper than a full rebuild)."""
        self.sync_vector_index()
        report = self.index_report()
        with self.db.session() as s:
            missing = report["fts_missing"] + report["vector_missing"]
            texts = {m.id: m.text for m in s.scalars(select(Memory).where(Memory.id.in_(missing)))}
            for i in report["fts_missing"]:
                KeywordIndex.add(s, i, texts[i])
            KeywordIndex.remove(s, report["fts_extra"])
        ids = report["vector_missing"]
        self.app.vector_index.upsert(ids, self.app.embedder.embed([texts[i] for i in ids]))
        self.app.vector_index.delete(report["vector_extra"])
        return {k: len(v) for k, v in report.items() if isinstance(v, list)}

    def reindex(self, batch: int = 256) -> int:
        """Rebuild FTS5 and Chroma from SQLite (also after a change of embedding model)."""
        self.app.vector_index.clear()
        with self.db.session() as s:
            KeywordIndex.clear(s)
            s.query(VectorOutbox).delete()
            rows = [(m.id, m.text) for m in s.scalars(select(Memory).where(Memory.status != "deleted"))]
            for memory_id, body in rows:
                KeywordIndex.add(s, memory_id, body)
            s.query(Memory).filter(Memory.status != "deleted").update({Memory.embedding_model: self.settings.embedder})
        for start in range(0, len(rows), batch):
            chunk = rows[start:start + batch]
            self.app.vector_index.upsert([i for i, _ in chunk], self.app.embedder.embed([t for _, t in chunk]))
        return len(rows)

    def stale_embedding_count(self) -> int:
        with self.db.session() as s:
            return s.scalar(select(func.count(Memory.id)).where(
                Memory.status != "deleted", Memory.embedding_model != self.settings.embedder)) or 0
