"""Keeping the derived indexes in step with SQLite: replay the vector outbox, compare, repair, rebuild."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from storage.embedder import Embedder
from storage.memory_store import MemoryStore
from storage.vector_index import VectorIndex


class IndexKeeper:
    def __init__(self, store: MemoryStore, vector_index: VectorIndex, embedder: Embedder, embedder_name: str):
        self.store = store
        self.vector_index = vector_index
        self.embedder = embedder
        self.embedder_name = embedder_name

    def sync_vectors(self) -> int:
        """Replay vector writes a crash left pending. Cheap when there are none, and it only writes when there
        are some: every recall starts here, and a recall must not queue behind a long write."""
        texts, deletes = self.store.pending_vector_writes()
        if not texts and not deletes:
            return 0
        ids = list(texts)
        if ids:
            self.vector_index.upsert(ids, self.embedder.embed([texts[i] for i in ids]))
        self.vector_index.delete(deletes)
        self.store.clear_outbox(ids + deletes)
        return len(ids) + len(deletes)

    def report(self) -> dict[str, Any]:
        """Compare the ids in SQLite with both indexes: what each one misses or has in excess."""
        truth, fts, pending = self.store.index_state()
        vec = self.vector_index.ids()
        return {
            "memories": len(truth), "pending_vector_writes": pending,
            "fts_missing": sorted(truth - fts), "fts_extra": sorted(fts - truth),
            "vector_missing": sorted(truth - vec), "vector_extra": sorted(vec - truth),
        }

    def repair(self) -> dict[str, int]:
        """Fix only what differs (cheaper than a full rebuild)."""
        self.sync_vectors()
        report = self.report()
        self.store.repair_keyword_index(report["fts_missing"], report["fts_extra"])
        texts = self.store.texts(report["vector_missing"])
        ids = [i for i in report["vector_missing"] if i in texts]
        self.vector_index.upsert(ids, self.embedder.embed([texts[i] for i in ids]))
        self.vector_index.delete(report["vector_extra"])
        return {k: len(v) for k, v in report.items() if isinstance(v, list)}

    def rebuild(self, batch: int = 256, progress: Callable[[int, int], None] | None = None) -> int:
        """Rebuild FTS5 and Chroma from SQLite (also after a change of embedding model).

        Every vector write is queued in the outbox in the same transaction, and Chroma is cleared only after it
        commits: a crash anywhere leaves either the old indexes or a queue that sync_vectors replays.
        `progress(done, total)` hears of each batch of memories re-embedded (the slow part).
        """
        rows = self.store.rebuild_keyword_index(self.embedder_name)
        self.vector_index.clear()
        for start in range(0, len(rows), batch):
            if progress is not None:
                progress(start, len(rows))
            chunk = rows[start:start + batch]
            self.vector_index.upsert([i for i, _ in chunk], self.embedder.embed([t for _, t in chunk]))
            self.store.clear_outbox([i for i, _ in chunk])
        if progress is not None:
            progress(len(rows), len(rows))
        return len(rows)

    def stale_embedding_count(self) -> int:
        return self.store.stale_embedding_count(self.embedder_name)
