"""The memories table as the rest of the program reads it: records by id, listings, counts, the ledger of one
memory, the vector outbox, and the compact rows recall ranks. All SQL about memories outside the write path's
own transaction lives here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.db import Database
from storage.enums import MemoryKind, MemoryStatus
from storage.errors import NotFound
from storage.keyword_index import KeywordIndex
from storage.models import Memory, MemoryEvent, VectorOutbox
from storage.records import MemoryRecord


@dataclass
class RecallRow:
    """The columns recall ranks a candidate by; full rows are loaded only for the k it returns.

    Times are Unix seconds, computed by SQLite: recall only needs ages and comparisons, and making ~1,000
    datetime objects per question cost more than the row lookups.
    """

    id: int
    kind: str
    status: str
    session_id: int | None
    valid_at: float | None  # valid_from
    seen_at: float  # last recalled, else recorded
    strength: float
    importance: float
    pinned: bool
    text: str


def _unix(column: str) -> str:
    return f"(julianday({column}) - 2440587.5) * 86400.0"  # SQLite's stored UTC text, as Unix seconds


_RECALL_ROWS_SQL = (f"SELECT id, kind, status, session_id, {_unix('valid_from')}, "
                    f"{_unix('coalesce(last_recalled_at, recorded_at)')}, strength, importance, pinned, text "
                    "FROM memories WHERE id IN ({ids})")


def recall_rows(s: Session, ids: Iterable[int]) -> dict[int, RecallRow]:
    """RecallRow for each id that exists, read inside the caller's (read) session."""
    wanted = {int(i) for i in ids}
    if not wanted:
        return {}
    # Plain SQL with the (integer) ids written in: binding hundreds of parameters costs more than the
    # lookups, SQLite caps their number, and SQLAlchemy's per-row type handling cost about as much as the
    # lookups themselves for the ~1,000 candidates of a question at 100k memories.
    rows = s.connection().exec_driver_sql(_RECALL_ROWS_SQL.format(ids=",".join(map(str, wanted))))
    return {row[0]: RecallRow(*row) for row in rows}


def newest_in(s: Session, start: datetime | None, end: datetime | None, statuses: Sequence[str],
              limit: int) -> list[int]:
    """Ids of the newest memories (by valid time) in [start, end): a period asked about with no topic words."""
    q = select(Memory.id).where(Memory.status.in_(list(statuses)))
    if start is not None:
        q = q.where(Memory.valid_from >= start)
    if end is not None:
        q = q.where(Memory.valid_from < end)
    return list(s.scalars(q.order_by(Memory.valid_from.desc(), Memory.id.desc()).limit(limit)))


def get_row(s: Session, memory_id: int) -> Memory:
    """The row, or NotFound with the command that lists ids."""
    m = s.get(Memory, memory_id)
    if m is None:
        raise NotFound(f"No memory with id {memory_id}; list ids with: secondme memories list")
    return m


def refill_indexes(s: Session, embedder_name: str) -> list[tuple[int, str]]:
    """Refill FTS5 from the rows and queue every vector in the outbox, in the caller's transaction; every memory
    held is marked as embedded by `embedder_name`. Returns (id, text) of what Chroma must now be given."""
    KeywordIndex.clear(s)
    s.query(VectorOutbox).delete()
    rows = [(m.id, m.text) for m in s.scalars(select(Memory).where(Memory.status != MemoryStatus.DELETED))]
    KeywordIndex.add_new(s, rows)
    s.add_all([VectorOutbox(memory_id=memory_id, op="upsert") for memory_id, _ in rows])
    s.query(Memory).filter(Memory.status != MemoryStatus.DELETED).update({Memory.embedding_model: embedder_name})
    return rows


def event_json(e: MemoryEvent) -> dict[str, Any]:
    return {"id": e.id, "op": e.op, "reason": e.reason, "source": e.source,
            "created_at": e.created_at.isoformat(), "operation_id": e.operation_id,
            "session_id": e.session_id, "payload": e.payload}


class MemoryStore:
    """Reads of the memories table and the bookkeeping of the vector outbox."""

    def __init__(self, db: Database):
        self.db = db

    # -- records --------------------------------------------------------------------------------
    def get(self, memory_id: int) -> MemoryRecord:
        with self.db.read_session() as s:
            return MemoryRecord.from_row(get_row(s, memory_id))

    def records(self, ids: Iterable[int]) -> dict[int, MemoryRecord]:
        with self.db.read_session() as s:
            return {m.id: MemoryRecord.from_row(m) for m in s.scalars(select(Memory).where(Memory.id.in_(list(ids))))}

    def page(self, kind: MemoryKind | None = None, status: MemoryStatus | None = MemoryStatus.ACTIVE,
             limit: int = 50, offset: int = 0) -> list[MemoryRecord]:
        """Newest first."""
        with self.db.read_session() as s:
            q = select(Memory).order_by(Memory.recorded_at.desc(), Memory.id.desc()).limit(limit).offset(offset)
            if kind:
                q = q.where(Memory.kind == kind)
            if status:
                q = q.where(Memory.status == status)
            return [MemoryRecord.from_row(m) for m in s.scalars(q)]

    def count(self, status: MemoryStatus | None = None) -> int:
        with self.db.read_session() as s:
            q = select(func.count(Memory.id))
            if status:
                q = q.where(Memory.status == status)
            return s.scalar(q) or 0

    def events(self, memory_id: int) -> list[dict[str, Any]]:
        """The ledger of one memory, oldest first."""
        with self.db.read_session() as s:
            get_row(s, memory_id)
            rows = s.scalars(select(MemoryEvent).where(MemoryEvent.memory_id == memory_id).order_by(MemoryEvent.id))
            return [event_json(e) for e in rows]

    def stale_embedding_count(self, embedder_name: str) -> int:
        """Memories whose vector came from another embedding model than `embedder_name`."""
        with self.db.read_session() as s:
            return s.scalar(select(func.count(Memory.id)).where(
                Memory.status != MemoryStatus.DELETED, Memory.embedding_model != embedder_name)) or 0

    # -- the vector outbox ----------------------------------------------------------------------
    def pending_vector_writes(self) -> tuple[dict[int, str], list[int]]:
        """What the outbox still promises Chroma: texts to (re-)embed by id, and ids to delete."""
        with self.db.read_session() as s:
            pending = list(s.scalars(select(VectorOutbox)))
            if not pending:
                return {}, []
            upserts = {p.memory_id for p in pending if p.op == "upsert"}
            texts = {m.id: m.text for m in s.scalars(select(Memory).where(
                Memory.id.in_(upserts), Memory.status != MemoryStatus.DELETED))}
        return texts, [p.memory_id for p in pending if p.memory_id not in texts]

    def clear_outbox(self, ids: Sequence[int]) -> None:
        """Chroma confirmed these writes."""
        with self.db.session() as s:
            s.query(VectorOutbox).filter(VectorOutbox.memory_id.in_(list(ids))).delete(synchronize_session=False)

    # -- index upkeep ---------------------------------------------------------------------------
    def index_state(self) -> tuple[set[int], set[int], int]:
        """(ids that should be indexed, ids the keyword index holds, vector writes pending)."""
        with self.db.read_session() as s:
            truth = set(s.scalars(select(Memory.id).where(Memory.status != MemoryStatus.DELETED)))
            return truth, KeywordIndex.ids(s), s.scalar(select(func.count()).select_from(VectorOutbox)) or 0

    def repair_keyword_index(self, missing: Sequence[int], extra: Sequence[int]) -> None:
        """Add the rows FTS5 misses, drop the ones it holds in excess."""
        with self.db.session() as s:
            for m in s.scalars(select(Memory).where(Memory.id.in_(list(missing)))):
                KeywordIndex.add(s, m.id, m.text)
            KeywordIndex.remove(s, extra)

    def texts(self, ids: Sequence[int]) -> dict[int, str]:
        with self.db.read_session() as s:
            return {m.id: m.text for m in s.scalars(select(Memory).where(Memory.id.in_(list(ids))))}

    def rebuild_keyword_index(self, embedder_name: str) -> list[tuple[int, str]]:
        """Refill FTS5 from the rows and queue every vector in the outbox, in one transaction; returns
        (id, text) of what Chroma must now be given. A crash after it leaves a queue the next start replays."""
        with self.db.session() as s:
            return refill_indexes(s, embedder_name)
