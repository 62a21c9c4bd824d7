"""MemoryManager: the one write path and the one recall path every front end uses."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from assistant.memory import ledger
from assistant.memory.chunking import split_text
from assistant.memory.extraction import ExtractionQueue
from assistant.memory.indexes import IndexKeeper
from assistant.memory.ledger import Ledger
from assistant.memory.recall import DEFAULT_STATUSES, Recaller
from assistant.memory.retention import reinforced_strength
from assistant.memory.text_rules import clean_text, text_hash
from assistant.memory.write_path import WriteOutcome, WritePath
from storage.db import Database
from storage.enums import EventOp, LinkKind, MemoryKind, MemoryStatus, Source
from storage.errors import UserError
from storage.keyword_index import KeywordIndex
from storage.memory_store import MemoryStore, get_row
from storage.models import Memory, VectorOutbox
from storage.records import MemoryRecord, NewMemory, RecallHit
from storage.timeutil import utcnow

if TYPE_CHECKING:
    from assistant.config import Settings


class MemoryRejected(UserError):
    """A plugin check rejected the memory: nothing was stored, the ledger says why."""


class MemoryManager:
    """The memory's public face. It owns no state of its own: it combines the write path, recall, the ledger,
    the extraction queue and the index keeper, each built and handed in by the composition root."""

    def __init__(self, db: Database, store: MemoryStore, write_path: WritePath, recaller: Recaller,
                 ledger: Ledger, indexes: IndexKeeper, extraction_queue: ExtractionQueue, settings: Settings):
        self.db = db
        self.store = store
        self.write_path = write_path
        self.recaller = recaller
        self.ledger = ledger
        self.indexes = indexes
        self.extraction_queue = extraction_queue
        self.settings = settings

    # -- write path ------------------------------------------------------------------------------
    def remember(self, text: str, *, kind: str = MemoryKind.FACT, source: str = Source.USER,
                 at: datetime | None = None, session_id: int | None = None, importance: float = 0.5,
                 trust: float | None = None, provenance: dict[str, Any] | None = None, subject: str | None = None,
                 slot_key: str | None = None, reason: str = "remembered") -> MemoryRecord:
        """Store one memory through the write path. Returns the stored memory, or for a duplicate the original.

        Raises MemoryRejected (a UserError) when a plugin check rejects it; the ledger keeps the reason.
        """
        item = NewMemory(text, kind=MemoryKind.parse(kind), source=Source.parse(source), at=at,
                         session_id=session_id, importance=importance, trust=trust, provenance=provenance or {},
                         subject=subject, slot_key=slot_key)
        outcome = self.write([item], reason=reason)[0]
        if outcome.record is None:
            raise MemoryRejected(f"Not stored: {outcome.reason}. The reason is kept in the ledger.")
        return outcome.record

    def remember_many(self, items: Sequence[NewMemory], reason: str = "remembered") -> list[MemoryRecord | None]:
        """remember() for several items, in order, in one transaction. None where an item was rejected."""
        return [o.record for o in self.write(items, reason=reason)]

    def write(self, items: Sequence[NewMemory], reason: str = "remembered",
              operation_id: str | None = None) -> list[WriteOutcome]:
        """The full answer of the write path: per item, what was done (stored, duplicate, ...) and why."""
        return self.write_path.write(items, reason=reason, operation_id=operation_id)

    def record_turn(self, session_id: int, user_text: str, assistant_text: str, message_ids: Sequence[int],
                    at: datetime | None = None, source: Source = Source.USER) -> MemoryRecord:
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
            links = ((LinkKind.CONTINUES, records[-1].id),) if records else ()
            item = NewMemory(chunk, kind=MemoryKind.EPISODE, source=source, at=at, session_id=session_id,
                             provenance=provenance, links=links)
            reason = "chat turn" if len(chunks) == 1 else f"chat turn, part {number} of {len(chunks)}"
            outcome = self.write([item], reason=reason, operation_id=op_id)[0]
            assert outcome.record is not None  # episodes are never rejected (write_path: reject -> quarantine)
            records.append(outcome.record)
        if self.settings.extract_facts:
            self.extraction_queue.enqueue([r.id for r in records])
        return records[0]

    def forget_turn(self, session_id: int, message_ids: Sequence[int], reason: str) -> list[int]:
        """Archive the episode memories recorded for one chat round (all its chunks); returns their ids."""
        wanted = set(message_ids)
        with self.db.read_session() as s:
            episodes = s.scalars(select(Memory).where(
                Memory.session_id == session_id, Memory.kind == MemoryKind.EPISODE,
                Memory.status.in_((MemoryStatus.ACTIVE, MemoryStatus.SUPERSEDED))))
            ids = [m.id for m in episodes if set((m.provenance or {}).get("message_ids") or ()) == wanted]
        for memory_id in ids:
            self.forget(memory_id, reason=reason)
        return ids

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
        self.indexes.sync_vectors()
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
        return self.store.get(memory_id)

    def count(self, status: str | None = None) -> int:
        return self.store.count(MemoryStatus.parse(status) if status else None)

    def events(self, memory_id: int) -> list[dict[str, Any]]:
        return self.store.events(memory_id)

    # -- user operations -------------------------------------------------------------------------
    def pin(self, memory_id: int, pinned: bool = True) -> MemoryRecord:
        return self.change(memory_id, EventOp.PIN if pinned else EventOp.UNPIN,
                           "pinned by the user" if pinned else "unpinned", pinned=pinned)

    def forget(self, memory_id: int, reason: str = "forgotten by the user") -> MemoryRecord:
        """Archive: out of default recall, still listed and restorable."""
        return self.change(memory_id, EventOp.FORGET, reason, status=MemoryStatus.ARCHIVED,
                           expect=(MemoryStatus.ACTIVE, MemoryStatus.SUPERSEDED))

    def restore(self, memory_id: int, reason: str = "restored by the user") -> MemoryRecord:
        return self.change(memory_id, EventOp.RESTORE, reason, status=MemoryStatus.ACTIVE,
                           expect=(MemoryStatus.ARCHIVED,))

    def update_text(self, memory_id: int, text: str, reason: str = "edited by the user") -> MemoryRecord:
        cleaned = clean_text(text, self.settings.max_text_bytes)
        record = self.change(memory_id, EventOp.UPDATE, reason, text=cleaned, text_hash=text_hash(cleaned),
                             reindex=True)
        self.indexes.sync_vectors()
        return record

    def delete(self, memory_id: int, reason: str = "deleted by the user") -> MemoryRecord:
        """Purge for good: the text leaves SQLite, FTS5 and Chroma; a tombstone row keeps the ledger whole."""
        with self.db.session() as s:
            m = get_row(s, memory_id)
            if m.status == MemoryStatus.DELETED:
                return MemoryRecord.from_row(m)
            ledger.purge_row(s, m, reason, operation_id=ledger.new_operation_id())
            record = MemoryRecord.from_row(m)
        self.indexes.sync_vectors()
        self.db.checkpoint()
        return record

    def change(self, memory_id: int, op: EventOp, reason: str, expect: Sequence[str] | None = None,
               reindex: bool = False, **fields: Any) -> MemoryRecord:
        """Change one memory's fields as one ledgered operation (reversible by undo). `expect`: the statuses it
        may be in; `reindex`: its text changed, so both indexes take it again."""
        with self.db.session() as s:
            m = get_row(s, memory_id)
            if m.status == MemoryStatus.DELETED:
                raise UserError(f"Memory {memory_id} was deleted for good; nothing is left to change.")
            if expect and m.status not in expect:
                raise UserError(f"Memory {memory_id} is {m.status}; this works only on {' or '.join(expect)} memories.")
            before = ledger.snapshot(m)
            for name, value in fields.items():
                setattr(m, name, value)
            now = utcnow()
            m.updated_at = now
            if fields.get("status") == MemoryStatus.ARCHIVED:
                m.expired_at = now
            elif fields.get("status") == MemoryStatus.ACTIVE:
                m.expired_at = None
            if reindex:
                KeywordIndex.add(s, m.id, m.text)
                s.merge(VectorOutbox(memory_id=m.id, op="upsert"))
            ledger.record(s, op, reason, operation_id=ledger.new_operation_id(), memory_id=m.id,
                          before=before, after=ledger.snapshot(m))
            return MemoryRecord.from_row(m)

    # -- index upkeep (see IndexKeeper) ----------------------------------------------------------
    def sync_vector_index(self) -> int:
        return self.indexes.sync_vectors()

    def index_report(self) -> dict[str, Any]:
        return self.indexes.report()

    def repair_indexes(self) -> dict[str, int]:
        return self.indexes.repair()

    def reindex(self, batch: int = 256, progress: Callable[[int, int], None] | None = None) -> int:
        return self.indexes.rebuild(batch=batch, progress=progress)

    def stale_embedding_count(self) -> int:
        return self.indexes.stale_embedding_count()

    # Last in the class: below it, `list` in an annotation would name this method, not the builtin.
    def list(self, kind: str | None = None, status: str | None = MemoryStatus.ACTIVE, limit: int = 50,
             offset: int = 0) -> list[MemoryRecord]:
        """Newest first; `status` None lists every status."""
        return self.store.page(kind=MemoryKind.parse(kind) if kind else None,
                               status=MemoryStatus.parse(status) if status else None, limit=limit, offset=offset)
