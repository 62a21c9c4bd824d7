"""Recall: hybrid retrieval over the derived indexes, fused and filtered against SQLite."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from sqlalchemy import select

from assistant.memory.fusion import reciprocal_rank_fusion
from assistant.memory.records import MemoryRecord, RecallHit
from assistant.memory.text_rules import clean_text
from storage.errors import UserError
from storage.keyword_index import KeywordIndex
from storage.models import Memory

if TYPE_CHECKING:
    from assistant.app import App

DEFAULT_STATUSES = ("active",)
CANDIDATE_POOL = 100  # per retriever, before fusion


class Recaller:
    def __init__(self, app: "App"):
        self.app = app
        self.settings = app.settings

    def recall(self, query: str, k: int | None = None, statuses: Sequence[str] = DEFAULT_STATUSES,
               kinds: Sequence[str] | None = None) -> list[RecallHit]:
        """Dense (Chroma) and keyword (FTS5 BM25) rankings fused by reciprocal rank fusion."""
        query = clean_text(query, self.settings.max_text_bytes, what="query")
        k = k or self.settings.recall_k
        if k < 1:
            raise UserError("k must be at least 1.")
        vector = self.app.embedder.embed([query])[0]
        dense = self.app.vector_index.query(vector, CANDIDATE_POOL * 3)
        with self.app.db.session() as s:
            keyword = KeywordIndex.search(s, query, CANDIDATE_POOL, statuses)
            dense_ids = [i for i, _ in dense]
            rows = {m.id: m for m in s.scalars(select(Memory).where(Memory.id.in_(dense_ids + [i for i, _ in keyword])))}
        allowed = {i for i, m in rows.items() if m.status in statuses and (kinds is None or m.kind in kinds)}
        dense = [(i, sim) for i, sim in dense if i in allowed][:CANDIDATE_POOL]
        keyword = [(i, sc) for i, sc in keyword if i in allowed]
        fused = reciprocal_rank_fusion({"dense": [i for i, _ in dense], "keyword": [i for i, _ in keyword]})
        dense_rank = {i: (r, sim) for r, (i, sim) in enumerate(dense, start=1)}
        keyword_rank = {i: (r, sc) for r, (i, sc) in enumerate(keyword, start=1)}
        hits = []
        for memory_id, score in sorted(fused.items(), key=lambda kv: -kv[1])[:k]:
            breakdown = {"rrf": score}
            if memory_id in dense_rank:
                breakdown.update(dense_rank=dense_rank[memory_id][0], dense_similarity=dense_rank[memory_id][1])
            if memory_id in keyword_rank:
                breakdown.update(keyword_rank=keyword_rank[memory_id][0], bm25=keyword_rank[memory_id][1])
            hits.append(RecallHit(MemoryRecord.from_row(rows[memory_id]), score, breakdown))
        return hits
