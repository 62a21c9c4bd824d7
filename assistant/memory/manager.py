"""MemoryManager: the one write path and the one recall path every front end uses."""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from sqlalchemy import func, select

from assistant.memory import ledger
from assistant.memory.chunking import split_text
from assistant.memory.ledger import Ledger
from assistant.memory.recall import DEFAULT_STATUSES, Recaller
from assistant.memory.records import MemoryRecord, RecallHit
from assistant.memory.retention import reinforced_strength
from assistant.memory.text_rules import clean_text, text_hash
from assistant.memory.write_path import DEFAULT_TRUST, WriteOutcome, WritePath  # noqa: F401 (re-exported)
from storage.errors import NotFound, UserError
from storage.keyword_index import KeywordIndex
from storage.models import MEMORY_STATUSES, Memory, MemoryEvent, VectorOutbox
from storage.timeutil import utcnow

if TYPE_CHECKING:
    from assistant.app import App

class MemoryRejected(UserError):
    """A plugin check rejected the memory: nothing was stored, the ledger says why."""


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
        subject: str | None = None,
        slot_key: str | None = None,
        reason: str = "remembered",
    ) -> MemoryRecord:
        """Store one memory through the write path. Returns the stored memory, or for a duplicate the original.

        Raises MemoryRejected (a UserError) when a plugin check rejects it; the ledger keeps the reason.
        """
        outcome = self.write([dict(text=text, kind=kind, source=source, at=at, session_id=session_id,
                                   importance=importance, trust=trust, provenance=provenance, subject=subject,
                                   slot_key=slot_key)], reason=reason)[0]
        if outcome.record is None:
            raise MemoryRejected(f"Not stored: {outcome.reason}. The reason is kept in the ledger.")
        return outcome.record

    def remember_many(self, items: Sequence[dict[str, Any]], reason: str = "remembered") -> list[MemoryRecord | None]:
        """remember() for several items, in order, in one transaction. None where an item was rejected."""
        return [o.record for o in self.write(items, reason=reason)]

    def write(self, items: Sequence[dict[str, Any]], reason: str = "remembered",
              operation_id: str | None = None) -> list[WriteOutcome]:
        """The full answer of the write path: per item, what was done (stored, duplicate, ...) and why."""
        return self.write_path.write(items, reason=reason, operation_id=operation_id)

    def record_turn(self, session_id: int, user_text: str, assistant_text: str, message_ids: Sequence[int],
                    at: datetime | None = None) -> MemoryRecord:
        """Keep one chat round verbatim as an `episode`. Never depends on a language model succeeding.

        A turn longer than settings.episode_chunk_chars is stored as several episodes, each linked
        (`continues`) to the one before; together they hold every character. Returns the first chunk.
        Each chunk is queued for fact extraction when settings.extract_facts is on.
        """
        body = f"User: {user_text}\nAssistant: {assistant_text}"
        chunks = split_text(body, self.settings.episode_chunk_chars)
        op_id = ledger.new_operation_id()
        records: list[MemoryRecord] = []
        for number, chunk in enumerate(chunks, start=1):
            provenance: dict[str, Any] = {"message_ids": list(message_ids)}
            if len(chunks) > 1:
                provenance.update(chunk=number, chunks=len(chunks))
            links = [("continues", records[-1].id)] if records else []
            outcome = self.write([dict(text=chunk, kind="episode", source="user", at=at, session_id=session_id,
                                       provenance=provenance, links=links)],
                                 reason="chat turn" if len(chunks) == 1 else f"chat turn, part {number} of {len(chunks)}",
                                 operation_id=op_id)[0]
            records.append(outcome.record)
        if self.settings.extract_facts:
            self.extraction_queue.enqueue([r.id for r in records])
        return records[0]

    def forget_turn(self, session_id: int, message_ids: Sequence[int], reason: str) -> list[int]:
        """Archive the episode memories recorded for one chat round (all its chunks); returns their ids."""
        wanted = set(message_ids)
        with self.db.session() as s:
            episodes = s.scalars(select(Memory).where(Memory.session_id == session_id, Memory.kind == "episode",
                                                      Memory.status.in_(("active", "superseded"))))
            ids = [m.id for m in episodes if set((m.provenance or {}).get("message_ids") or ()) == wanted]
        for memory_id in ids:
            self.forget(memory_id, reason=reason)
        return ids

    @cached_property
    def write_path(self) -> WritePath:
        return WritePath(self.app)

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.app)

    @cached_property
    def extraction_queue(self):
        from assistant.memory.extraction import ExtractionQueue

        return ExtractionQueue(self.app)

    def undo(self) -> dict[str, Any]:
        """Reverse the last operation recorded in the ledger."""
        return self.ledger.undo()

    def forget_session(self, session_id: int, purge: bool = False) -> dict[str, Any]:
        """Forget what a conversation added; facts it superseded become current again."""
        return self.ledger.forget_session(session_id, purge=purge)

    def history(self, memory_id: int) -> dict[str, Any]:
        return self.ledger.history(memory_id)

    # -- recall ----------------------------------------------------------------------------------
    def recall(self, query: str, k: int | None = None, statuses: Sequence[str] = DEFAULT_STATUSES,
               kinds: Sequence[str] | None = None, **options: Any) -> list[RecallHit]:
        """The memories that best answer `query` (see assistant.memory.recall for how and for `options`:
        reference_time, time_range, history)."""
        self.sync_vector_index()
        return self.recaller.recall(query, k=k, statuses=statuses, kinds=kinds, **options)

    def reinforce(self, memory_ids: Iterable[int]) -> None:
        """A recalled memory that was used gets stronger: spaced repetition grows its stability."""
        now = utcnow()
        with self.db.session() as s:
            for m in s.scalars(select(Memory).where(Memory.id.in_(list(memory_ids)))):
                m.strength = reinforced_strength(m.strength, m.last_recalled_at, now,
                                                 self.settings.reinforce_min_gap_hours)
                m.recall_count += 1
                m.last_recalled_at = now

    # -- reading ---------------------------------------------------------------------------------
    def get(self, memory_id: int) -> MemoryRecord:
        with self.db.read_session() as s:
            return MemoryRecord.from_row(self._row(s, memory_id))

    def list(self, kind: str | None = None, status: str | None = "active", limit: int = 50,
             offset: int = 0) -> list[MemoryRecord]:
        with self.db.read_session() as s:
            q = select(Memory).order_by(Memory.recorded_at.desc(), Memory.id.desc()).limit(limit).offset(offset)
            if kind:
                q = q.where(Memory.kind == kind)
            if status:
                if status not in MEMORY_STATUSES:
                    raise UserError(f"Unknown status '{status}'; use one of: {', '.join(MEMORY_STATUSES)}.")
                q = q.where(Memory.status == status)
            return [MemoryRecord.from_row(m) for m in s.scalars(q)]

    def count(self, status: str | None = None) -> int:
        with self.db.read_session() as s:
            q = select(func.count(Memory.id))
            if status:
                q = q.where(Memory.status == status)
            return s.scalar(q) or 0

    def events(self, memory_id: int) -> list[dict[str, Any]]:
        with self.db.read_session() as s:
            self._row(s, memory_id)
            rows = s.scalars(select(MemoryEvent).where(MemoryEvent.memory_id == memory_id).order_by(MemoryEvent.id))
            return [{"id": e.id, "op": e.op, "reason": e.reason, "source": e.source,
                     "created_at": e.created_at.isoformat(), "operation_id": e.operation_id,
                     "session_id": e.session_id, "payload": e.payload} for e in rows]

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
            ledger.purge_row(s, m, reason, operation_id=ledger.new_operation_id())
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
            before = ledger.snapshot(m)
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
            ledger.record(s, op, reason, operation_id=ledger.new_operation_id(), memory_id=m.id,
                          before=before, after=ledger.snapshot(m))
            return MemoryRecord.from_row(m)

    @staticmethod
    def _row(s, memory_id: int) -> Memory:
        m = s.get(Memory, memory_id)
        if m is None:
            raise NotFound(f"No memory with id {memory_id}; list ids with: secondme memories list")
        return m

    # -- index upkeep ----------------------------------------------------------------------------
    def sync_vector_index(self) -> int:
        """Replay vector writes a crash left pending. Cheap when there are none, and it only writes when there
        are some: every recall starts here, and a recall must not queue behind a long write."""
        with self.db.read_session() as s:
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

    def reindex(self, batch: int = 256, progress: Callable[[int, int], None] | None = None) -> int:
        """Rebuild FTS5 and Chroma from SQLite (also after a change of embedding model).

        Every vector write is queued in the outbox in the same transaction, and Chroma is cleared only after it
        commits: a crash anywhere leaves either the old indexes or a queue that sync_vector_index replays.
        `progress(done, total)` hears of each batch of memories re-embedded (the slow part).
        """
        with self.db.session() as s:
            KeywordIndex.clear(s)
            s.query(VectorOutbox).delete()
            rows = [(m.id, m.text) for m in s.scalars(select(Memory).where(Memory.status != "deleted"))]
            KeywordIndex.add_new(s, rows)
            for memory_id, _ in rows:
                s.add(VectorOutbox(memory_id=memory_id, op="upsert"))
            s.query(Memory).filter(Memory.status != "deleted").update({Memory.embedding_model: self.settings.embedder})
        self.app.vector_index.clear()
        for start in range(0, len(rows), batch):
            if progress is not None:
                progress(start, len(rows))
            chunk = rows[start:start + batch]
            self.app.vector_index.upsert([i for i, _ in chunk], self.app.embedder.embed([t for _, t in chunk]))
            self._clear_outbox([i for i, _ in chunk])
        if progress is not None:
            progress(len(rows), len(rows))
        return len(rows)

    def stale_embedding_count(self) -> int:
        with self.db.session() as s:
            return s.scalar(select(func.count(Memory.id)).where(
                Memory.status != "deleted", Memory.embedding_model != self.settings.embedder)) or 0
